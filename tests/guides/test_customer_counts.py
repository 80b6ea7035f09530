"""The guides' customer counts (/console/guides, GET /api/v1/guides/staff) are one grouped
count: at a chain's size (500,000 bindings, bench/chainscale) loading every binding to count
them took seconds per request."""

from __future__ import annotations

import httpx

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.guides.customers import customer_counts
from tests.attribution.world import bind, customer, make_world
from tests.orders.test_query_counts import counting


async def test_counts_per_guide_without_loading_the_bindings(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given three customers bound to a guide, one to the other guide, one to a store only
    w = await make_world(state, client)
    for i, guide in enumerate([w.guide, w.guide, w.guide, w.other_guide, None]):
        me, _ = await customer(state, w.tenant, f"顾客{i}")
        await bind(state, w.tenant, me, store_id=w.store.id, guide_staff_id=guide, source="scan")

    # When the counts are read
    async with UnitOfWork(state.read_factory) as uow:
        with counting(state) as statements:
            counts = await customer_counts(uow.session, w.tenant)

    # Then each guide has its count, from one statement that counts in the database
    # (a row per guide comes back, not a row per binding)
    assert counts == {w.guide: 3, w.other_guide: 1}
    assert len(statements) == 1
    sql = " ".join(statements[0].lower().split())
    assert "count(" in sql and "group by attribution_bindings.guide_staff_id" in sql


async def test_guides_api_shows_the_counts(state: AppState, client: httpx.AsyncClient) -> None:
    # Given two customers bound to a guide
    w = await make_world(state, client)
    for i in range(2):
        me, _ = await customer(state, w.tenant, f"顾客{i}")
        await bind(state, w.tenant, me, store_id=w.store.id, guide_staff_id=w.guide, source="scan")

    # When the owner lists the guides
    r = await client.get("/api/v1/guides/staff", headers=w.owner)

    # Then the guide shows both, the other guide none
    assert r.status_code == 200, r.text
    shown = {g["id"]: g["customers"] for g in r.json()["items"]}
    assert shown[w.guide_public] == 2
    assert sum(shown.values()) == 2
