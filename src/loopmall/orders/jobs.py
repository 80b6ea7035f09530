"""The unpaid-order sweep: orders whose time to pay ran out are cancelled."""

from __future__ import annotations

from loopmall.core import clock
from loopmall.core.jobs import periodic
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.orders.service import cancel_if_unpaid, due_unpaid

# Rounds per sweep: each round reads up to 100 due orders, then cancels each in a short
# transaction of its own.
MAX_ROUNDS = 50


async def sweep_unpaid(state: AppState) -> int:
    """Cancel every unpaid order whose time ran out, releasing its holds; returns how many."""
    total = 0
    now = clock.now()
    for _ in range(MAX_ROUNDS):
        async with UnitOfWork(state.read_factory) as uow:
            due = await due_unpaid(uow.session, now)
        if not due:
            break
        for order_id, tenant in due:
            async with UnitOfWork(state.write_factory) as uow:
                if await cancel_if_unpaid(uow.session, tenant, order_id, now):
                    total += 1
                await uow.commit()
    return total


@periodic("cancel-unpaid-orders", lambda settings: settings.order_sweep_seconds)
async def cancel_unpaid_orders(state: AppState) -> int:
    return await sweep_unpaid(state)
