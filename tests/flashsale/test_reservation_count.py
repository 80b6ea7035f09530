"""The sale keeps its own count of reservations (the console's live figure, read every
second instead of a COUNT(*) of millions of rows): it equals the rows through bulk loads,
repeats, rollbacks and a crowd reserving at once, on both backends."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale import service
from loopmall.flashsale.models import FlashReservation
from loopmall.flashsale.repository import get_sale as find_sale
from tests.factories import make_staff, token_for
from tests.flashsale.fixtures import Sale, get_sale, holders, make_sale
from tests.orders.fixtures import login_shopper

CROWD = 30


async def counted(state: AppState, sale: Sale) -> tuple[int, int]:
    """(the sale's count, COUNT(*) of its reservation rows)."""
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.scalar(
            select(func.count())
            .select_from(FlashReservation)
            .where(FlashReservation.sale_id == sale.id)
        )
    return (await get_sale(state, sale)).reservations, int(rows or 0)


async def test_the_count_equals_the_rows_through_repeats_rollbacks_and_a_crowd(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given a sale with 4 holders loaded in bulk, and another sale of the same merchant
    sale = await make_sale(state, units=3)
    other = await make_sale(state, units=1, slug="other")
    loaded = await holders(state, sale, 4)
    assert await counted(state, sale) == (4, 4)

    # When the bulk load is repeated with 2 of them and 2 newcomers, only the newcomers count
    newcomers = [(await login_shopper(state, sale.tenant, f"新人{i}")).customer_id for i in (1, 2)]
    async with UnitOfWork(state.write_factory) as uow:
        again = [s.customer_id for s in loaded[:2]] + newcomers
        await service.reserve_many(uow.session, sale.tenant, sale.id, again)
        await uow.commit()
    assert await counted(state, sale) == (6, 6)

    # A reservation whose transaction rolls back counts nothing
    undone = await login_shopper(state, sale.tenant, "反悔")
    async with UnitOfWork(state.write_factory) as uow:
        found = await find_sale(uow.session, sale.tenant, sale.public_id)
        assert await service.reserve(uow.session, sale.tenant, found, undone.customer_id)
        await uow.rollback()
    assert await counted(state, sale) == (6, 6)

    # A crowd reserves through the API at once: a third click twice, and two holders from
    # the bulk load reserve again among them
    crowd = [await login_shopper(state, sale.tenant, f"买家{i}") for i in range(CROWD)]
    clicks = [s for i, s in enumerate(crowd) for _ in range(2 if i % 3 == 0 else 1)]
    clicks += loaded[:2]
    base = f"/api/v1/mall/{sale.tenant.slug}/flash/{sale.public_id}/reservation"
    answers = await asyncio.gather(*(client.post(base, headers=s.headers) for s in clicks))
    assert [(r.status_code, r.json()["reserved"]) for r in answers] == [(201, True)] * len(clicks)

    # Then the count is exactly the distinct reservers, and the console shows it
    assert await counted(state, sale) == (6 + CROWD, 6 + CROWD)
    assert await counted(state, other) == (0, 0)
    await make_staff(state, sale.tenant)
    headers = await token_for(client, sale.tenant.slug, "13800000001")
    live = await client.get(f"/api/v1/flash-sales/{sale.public_id}", headers=headers)
    assert live.json()["counts"]["reservations"] == 6 + CROWD
