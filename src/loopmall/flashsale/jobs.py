"""The flashsale domain's periodic jobs (and, by importing ``lapse``, its order hooks).

Importing ``lapse`` registers the order hooks (a cancelled flash order's ticket lapses and
its units go back on sale; a paid one's ticket is paid). Jobs, every
``flashsale_sweep_seconds``: order the database gate's accepted tickets (``pending``),
lapse unpaid flash orders and return Redis sales' lapsed units to Redis (``lapse``).
Importing ``reconcile`` registers its every-minute job: the Redis sales of the last day
agree with the database, and what Redis lost (a sale, a lapse's return) is repaired.
"""

from __future__ import annotations

from loopmall.core.jobs import periodic
from loopmall.core.state import AppState
from loopmall.flashsale import lapse, pending
from loopmall.flashsale import reconcile as reconcile  # registers its periodic job


@periodic("flashsale-order-pending", lambda settings: settings.flashsale_sweep_seconds)
async def order_pending_tickets(state: AppState) -> int:
    return await pending.drain_all(state)


@periodic("flashsale-lapse-unpaid", lambda settings: settings.flashsale_sweep_seconds)
async def lapse_unpaid_orders(state: AppState) -> int:
    return await lapse.lapse_unpaid(state)
