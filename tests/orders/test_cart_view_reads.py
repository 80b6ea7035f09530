"""The cart view, on the page and through the API, sends a pinned number of statements
whatever the number of lines (issue #13): the lines come with their SKUs, products, the
channel's price row and the membership in one statement, the free stock in one more; for
pickup the store's price applies."""

from __future__ import annotations

import re

import httpx

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import cookie_name, sandbox_login
from loopmall.orders import cart
from tests.orders.fixtures import STORE_PRICE, Shop, make_shop
from tests.reads import reading

HTML = {"Accept": "text/html"}


async def _filled(state: AppState, slug: str, lines: int) -> tuple[Shop, str]:
    shop = await make_shop(state, slug, sku_count=lines)
    async with UnitOfWork(state.write_factory) as uow:
        customer, token = await sandbox_login(uow.session, shop.tenant, name="小明")
        for sku in shop.skus:
            await cart.add_to_cart(uow.session, shop.tenant, customer.id, sku.public_id, 1)
        await uow.commit()
    return shop, token


async def _reads(
    state: AppState, client: httpx.AsyncClient, shop: Shop, token: str
) -> tuple[list[int], list[httpx.Response]]:
    slug = shop.tenant.slug
    bearer = {"Authorization": f"Bearer {token}"}
    counts, answers = [], []
    client.cookies.set(cookie_name(state.settings, slug), token)
    for path, headers in (
        (f"/m/{slug}/cart", HTML),
        (f"/api/v1/mall/{slug}/cart", bearer),
        (f"/api/v1/mall/{slug}/cart?store={shop.store.public_id}", bearer),
    ):
        with reading(state) as seen:
            got = await client.get(path, headers=headers)
        assert got.status_code == 200, got.text
        counts.append(len(seen.statements))
        answers.append(got)
    client.cookies.clear()
    return counts, answers


async def test_the_cart_view_is_pinned_whatever_the_number_of_lines(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given a cart of one line and a cart of eight
    one, one_token = await _filled(state, "one", 1)
    eight, eight_token = await _filled(state, "eight", 8)

    # When each is shown on the page, through the API, and for pickup at the store
    small, _ = await _reads(state, client, one, one_token)
    large, answers = await _reads(state, client, eight, eight_token)

    # Then both send the same statements: the shopper's session and customer, then the
    # cart's two (the page also opens the mall: merchant and settings); pickup looks the
    # store up first
    assert small == large == [6, 4, 5], (small, large)
    page, delivery, pickup = answers
    assert len(re.findall(r'class="order-line" data-sku=', page.text)) == 8
    assert [line["quantity"] for line in delivery.json()["lines"]] == [1] * 8
    # And the store's own price applies to its first SKU for pickup, not for delivery
    first = eight.skus[0].public_id
    by_sku = {line["sku"]: line for line in pickup.json()["lines"]}
    assert by_sku[first]["unit_fen"] == STORE_PRICE
    assert {line["sku"]: line for line in delivery.json()["lines"]}[first]["unit_fen"] != (
        STORE_PRICE
    )
