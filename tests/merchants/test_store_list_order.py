"""list_stores(newest_first=True): the console's order (issue #14 item 9), paged by cursor
down the ids on both databases; the API keeps oldest first."""

from __future__ import annotations

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.stores import create_store, list_stores
from tests.factories import make_merchant


async def test_newest_first_pages_down_and_searches(state: AppState) -> None:
    tenant = await make_merchant(state)
    other = await make_merchant(state, "other", "Other")
    async with UnitOfWork(state.write_factory) as uow:
        for n in range(1, 6):
            await create_store(uow.session, tenant, code=f"S{n}", name=f"店{n}")
        await create_store(uow.session, other, code="S9", name="别家的店")
        await uow.commit()
    async with UnitOfWork(state.read_factory) as uow:
        first, cursor = await list_stores(uow.session, tenant, limit=2, newest_first=True)
        assert [s.code for s in first] == ["S5", "S4"]
        second, cursor = await list_stores(
            uow.session, tenant, limit=2, newest_first=True, cursor=cursor
        )
        assert [s.code for s in second] == ["S3", "S2"]
        last, cursor = await list_stores(
            uow.session, tenant, limit=2, newest_first=True, cursor=cursor
        )
        assert ([s.code for s in last], cursor) == (["S1"], None)
        found, _ = await list_stores(uow.session, tenant, q="店3", newest_first=True)
        assert [s.code for s in found] == ["S3"]
        oldest, _ = await list_stores(uow.session, tenant, limit=2)
        assert [s.code for s in oldest] == ["S1", "S2"]
