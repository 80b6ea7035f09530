"""Events the guides domain publishes and the handlers and periodic jobs it registers.

Publishes ``fitting.booked`` (on booking) and ``fitting.reminder`` (once,
``fitting_reminder_seconds`` before the start) with the payload of
``guides.fittings.payload``: merchant_id, fitting_id, fitting_public_id, customer_id,
store_id, store_name, store_address, guide_staff_id, guide_name, starts_at (ISO, UTC), title.
Notifications subscribes both (inbox entry + outside message).
Job ``guides-fitting-reminders`` (every ``fitting_sweep_seconds``) publishes the reminders.
"""

from __future__ import annotations

from loopmall.core.jobs import periodic
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.guides import fittings


@periodic("guides-fitting-reminders", lambda settings: settings.fitting_sweep_seconds)
async def remind_fittings(state: AppState) -> int:
    """Remind customers of fittings starting within ``fitting_reminder_seconds``."""
    async with UnitOfWork(state.write_factory) as uow:
        count = await fittings.remind_due(
            uow.session, lead_seconds=state.settings.fitting_reminder_seconds
        )
        await uow.commit()
    return count
