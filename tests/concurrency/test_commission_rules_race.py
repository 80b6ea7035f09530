"""The first save of a merchant's commission rules by two people at once (found by the
permission matrix walk, #11: the owner's and the manager's form posts met on PostgreSQL):
both saves succeed and one row holds the later one — not a unique-key violation (500) from
two saves that each found no row and inserted one."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.rebates import service
from loopmall.rebates.models import CommissionRules
from loopmall.rebates.rules import Rates
from tests.factories import make_merchant


async def test_two_first_saves_of_the_rules_at_once_both_succeed(state: AppState) -> None:
    tenant = await make_merchant(state)

    async def second() -> None:
        async with UnitOfWork(state.write_factory) as uow:
            await service.update_rules(uow.session, tenant, Rates(store_bp=200), actor="b")
            await uow.commit()

    async with UnitOfWork(state.write_factory) as first:
        await service.update_rules(first.session, tenant, Rates(store_bp=100), actor="a")
        # The second save starts while the first has inserted and not committed.
        late = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        await first.commit()
    await asyncio.wait_for(late, timeout=10)

    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.scalar(select(func.count()).select_from(CommissionRules))
        saved = await uow.session.scalar(select(CommissionRules.store_bp))
    assert (rows, saved) == (1, 200)
