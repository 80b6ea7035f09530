"""The guides' lists come a page at a time (issue #11, case 2): GET /api/v1/guides/customers
and GET /api/v1/guides/staff answer at most ``limit`` rows and a cursor to the rest, where
they returned every bound customer (a chain's million) and every guide."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from loopmall.attribution import pages as attribution_pages
from loopmall.core.state import AppState
from loopmall.guides import pages as guide_pages
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


async def test_the_console_guides_page_is_paged(
    state: AppState, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two guides and a page of one
    w = await make_world(state, client)
    monkeypatch.setattr(guide_pages, "GUIDE_PAGE", 1)

    # When the owner opens the guides page, follows its next link, and picks a guide
    first = await client.get("/console/guides", headers=w.owner)
    link = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert first.status_code == 200 and link is not None, first.text
    second = await client.get(html.unescape(link[1]), headers=w.owner)
    on_second = re.findall(r'data-guide="([a-z0-9_]+)"', second.text)
    chosen = await client.get(f"/console/guides?guide={on_second[0]}", headers=w.owner)

    # Then each page lists one guide, and a guide of another page can still be chosen
    assert len(re.findall(r'data-guide="', first.text)) == 1
    assert len(on_second) == 1 and on_second[0] not in first.text
    assert chosen.status_code == 200 and 'id="guide-customers"' in chosen.text


async def test_the_attribution_filter_menus_are_capped_and_keep_the_choice(
    state: AppState, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a merchant with two stores and guides, and menus capped at one option each
    w = await make_world(state, client)
    monkeypatch.setattr(attribution_pages, "CHOICES", 1)

    # When the owner opens the ledger, then filters by the store that is not offered
    plain = await client.get("/console/attribution", headers=w.owner)
    offered = re.findall(r'<option value="(st_[a-z0-9_]+)"', plain.text)
    other = next(s.public_id for s in (w.store, w.other_store) if s.public_id not in offered)
    chosen = await client.get(
        "/console/attribution", params={"store": other, "guide": w.guide_public}, headers=w.owner
    )

    # Then each menu offers one store and one guide, plus the chosen one, selected
    assert plain.status_code == 200, plain.text
    assert len(offered) == 1
    assert len(re.findall(r'<option value="(stf_[a-z0-9_]+)"', plain.text)) == 1
    assert f'<option value="{other}" selected>' in chosen.text
    assert f'<option value="{w.guide_public}" selected>' in chosen.text
