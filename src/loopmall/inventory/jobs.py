"""Periodic jobs of inventory: holds that lapsed return to stock.

Reads already ignore expired holds and every write to a level records its own lapses, so
the sweep is not what makes units available again; it makes the record (hold status,
``held``, the ledger) catch up for levels nobody touches.
"""

from __future__ import annotations

from loopmall.core import clock
from loopmall.core.jobs import periodic
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.inventory.service import lapse_expired

# Rounds per sweep: each round is one short transaction over at most 200 levels.
MAX_ROUNDS = 50


async def sweep(state: AppState) -> int:
    """Lapse every expired hold of every merchant; returns how many lapsed."""
    total = 0
    now = clock.now()
    for _ in range(MAX_ROUNDS):
        async with UnitOfWork(state.write_factory) as uow:
            count = await lapse_expired(uow.session, None, now)
            await uow.commit()
        total += count
        if count == 0:
            break
    return total


@periodic("lapse-holds", lambda settings: settings.hold_sweep_seconds)
async def lapse_holds(state: AppState) -> int:
    return await sweep(state)
