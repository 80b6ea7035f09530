"""The guides' lists come a page at a time (issue #11, case 2): GET /api/v1/guides/customers
and GET /api/v1/guides/staff answer at most ``limit`` rows and a cursor to the rest, where
they returned every bound customer (a chain's million) and every guide."""

from __future__ import annotations

import httpx

from loopmall.core.state import AppState
from tests.attribution.world import bind, customer, make_world


async def test_bound_customers_come_a_page_at_a_time(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given five customers bound to the merchant's stores and guides
    w = await make_world(state, client)
    names = [f"顾客{i}" for i in range(5)]
    for i, name in enumerate(names):
        me, _ = await customer(state, w.tenant, name)
        guide = w.guide if i % 2 == 0 else w.other_guide
        await bind(state, w.tenant, me, store_id=w.store.id, guide_staff_id=guide, source="scan")

    # When the owner pages through them two at a time
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        got = await client.get("/api/v1/guides/customers", params=params, headers=w.owner)
        assert got.status_code == 200, got.text
        assert len(got.json()["items"]) <= 2
        seen += [c["name"] for c in got.json()["items"]]
        pages, cursor = pages + 1, got.json()["next_cursor"]
        if cursor is None:
            break

    # Then every customer came once, newest binding first, in three pages
    assert (pages, seen) == (3, names[::-1])
    # And a bad cursor or limit is refused
    for bad in ({"cursor": "WyJ4Il0"}, {"limit": "201"}):
        refused = await client.get("/api/v1/guides/customers", params=bad, headers=w.owner)
        assert refused.status_code == 422, refused.text


async def test_guides_come_a_page_at_a_time(state: AppState, client: httpx.AsyncClient) -> None:
    # Given a merchant with two guides (one with a customer)
    w = await make_world(state, client)
    me, _ = await customer(state, w.tenant, "顾客")
    await bind(state, w.tenant, me, store_id=w.store.id, guide_staff_id=w.guide, source="scan")

    # When the owner lists them one a page
    first = await client.get("/api/v1/guides/staff", params={"limit": "1"}, headers=w.owner)
    cursor = first.json()["next_cursor"]
    second = await client.get(
        "/api/v1/guides/staff", params={"limit": "1", "cursor": cursor}, headers=w.owner
    )

    # Then each page has one guide, with its count, and the cursor leads to the next
    assert first.status_code == 200, first.text
    everyone = first.json()["items"] + second.json()["items"]
    assert len(first.json()["items"]) == 1 and cursor
    assert {g["id"]: g["customers"] for g in everyone}[w.guide_public] == 1
    assert len({g["id"] for g in everyone}) == 2
