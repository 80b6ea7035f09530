"""Pickup stores at chain scale (issue #11, case 2): the shopper's list of 自提 stores and
the checkout page show a page of stores, searchable, never the whole chain."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import cookie_name, sandbox_login
from tests.chain_rows import insert_chain
from tests.factories import make_merchant
from tests.orders.fixtures import login_shopper
from tests.statement_params import LIMIT, counting_params

STORES = 33_000
HTML = {"Accept": "text/html"}


@pytest.fixture
async def chain_cleanup(state: AppState, backend: str) -> AsyncIterator[None]:
    yield
    if backend == "postgres":  # the harness's row-by-row DELETE of 33,000 stores is slow
        async with state.engine.begin() as conn:
            await conn.execute(text("TRUNCATE staff_stores, staff, stores CASCADE"))


async def test_pickup_stores_of_a_chain_come_a_page_at_a_time(
    state: AppState, client: httpx.AsyncClient, backend: str, chain_cleanup: None
) -> None:
    # Given a chain of 33,000 open pickup stores
    tenant = await make_merchant(state, "shop", "Shop")
    await insert_chain(state, backend, tenant, stores=STORES, guides=0)
    me = await login_shopper(state, tenant)

    # When the shopper lists them, and pages on
    with counting_params(state) as seen:
        first = await client.get("/api/v1/mall/shop/pickup-stores", headers=me.headers)
        body = first.json()
        second = await client.get(
            "/api/v1/mall/shop/pickup-stores",
            params={"cursor": body["next_cursor"], "limit": "5"},
            headers=me.headers,
        )

    # Then each answer is one page, in name order, continuing where the last stopped
    assert first.status_code == 200, first.text
    by_name = sorted(f"门店{x}" for x in range(1, STORES + 1))
    assert [s["name"] for s in body["items"]] == by_name[:20]
    assert [s["name"] for s in second.json()["items"]] == by_name[20:25]
    assert seen.most_params < LIMIT

    # And a search finds one store of the chain
    found = await client.get(
        "/api/v1/mall/shop/pickup-stores", params={"q": "门店32999"}, headers=me.headers
    )
    assert [s["id"] for s in found.json()["items"]] == ["st_scale32999"]
    assert found.json()["next_cursor"] is None


async def test_the_checkout_page_shows_a_page_of_stores_and_finds_one(
    state: AppState, client: httpx.AsyncClient, backend: str, chain_cleanup: None
) -> None:
    # Given a chain of 33,000 pickup stores and a logged-in shopper
    tenant = await make_merchant(state, "shop", "Shop")
    await insert_chain(state, backend, tenant, stores=STORES, guides=0)
    async with UnitOfWork(state.write_factory) as uow:
        _customer, token = await sandbox_login(uow.session, tenant, name="小明")
        await uow.commit()
    client.cookies.set(cookie_name(state.settings, tenant.slug), token)

    # When they check out for pickup, then search for a store, then pick it
    page = await client.get("/m/shop/checkout?fulfilment=pickup", headers=HTML)
    found = await client.get(
        "/m/shop/checkout", params={"fulfilment": "pickup", "store_q": "门店32999"}, headers=HTML
    )
    picked = await client.get(
        "/m/shop/checkout", params={"fulfilment": "pickup", "store": "st_scale32999"}, headers=HTML
    )

    # Then the page lists a page of stores, the search the one store, the pick stays chosen
    assert page.status_code == 200, page.text
    assert page.text.count('name="store" value="st_scale') == 20
    assert 'name="store_q"' in page.text and 'id="pickup-search"' in page.text
    assert found.text.count('name="store" value="st_scale') == 1
    assert 'value="st_scale32999" checked' in found.text
    assert picked.text.count('name="store" value="st_scale') == 21
    assert 'value="st_scale32999" checked' in picked.text


async def test_a_bad_pickup_cursor_is_refused(state: AppState, client: httpx.AsyncClient) -> None:
    tenant = await make_merchant(state, "shop", "Shop")
    me = await login_shopper(state, tenant)
    for params in ({"cursor": "WzEsMl0"}, {"cursor": "%%%"}, {"limit": "101"}, {"q": "a\x00"}):
        got = await client.get("/api/v1/mall/shop/pickup-stores", params=params, headers=me.headers)
        assert got.status_code == 422, (params, got.text)
