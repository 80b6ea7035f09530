"""On a phone: a shopper checks out two SKUs for store pickup (自提), is sent to the pay
page, and once paid sees the pickup code; the store's cashier types the code at the
console's pickup counter and hands the order over."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import sandbox_login
from loopmall.orders import cart
from tests.browser.conftest import LiveServer, console_login
from tests.factories import MadeStaff, make_staff
from tests.orders.fixtures import BASE_PRICE, STORE_PRICE, make_shop, mall_cookie, pay_in_mall

pytestmark = pytest.mark.browser


@dataclass
class Seeded:
    token: str
    cashier: MadeStaff
    store_name: str


async def seed(state: AppState) -> Seeded:
    shop = await make_shop(state, "shop")
    cashier = await make_staff(
        state, shop.tenant, phone="13800000002", role="cashier", store_ids=(shop.store.id,)
    )
    async with UnitOfWork(state.write_factory) as uow:
        customer, token = await sandbox_login(uow.session, shop.tenant, name="小明")
        for sku in shop.skus:
            await cart.add_to_cart(uow.session, shop.tenant, customer.id, sku.public_id, 1)
        await uow.commit()
    return Seeded(token, cashier, shop.store.name)


def test_pickup_order_from_cart_to_hand_over(
    live_server: LiveServer, page: Page, new_context: Any
) -> None:
    seeded = live_server.run(seed)
    page.context.add_cookies(
        [mall_cookie(live_server.settings, live_server.url, "shop", seeded.token)]
    )
    page.goto("/m/shop/cart")
    expect(page.locator("#cart-lines li")).to_have_count(2)
    expect(page.locator("#cart-total")).to_have_text(f"¥{2 * BASE_PRICE // 100}.00")
    page.locator("#to-checkout").click()
    page.locator("#choose-pickup").click()
    expect(page.locator("#pickup-stores")).to_contain_text(seeded.store_name)
    expect(page.locator("#checkout-total")).to_have_text(f"¥{(STORE_PRICE + BASE_PRICE) // 100}.00")
    page.locator("#place-order").click()
    page.wait_for_url(re.compile(r".*/m/shop/pay/ord_\w+$"))
    public_id = page.url.rsplit("/", 1)[1]

    assert live_server.run(lambda state: pay_in_mall(state, "shop", public_id)) == "paid"
    page.goto(f"/m/shop/orders/{public_id}")
    expect(page.locator("#order-status")).to_have_text("已支付")
    code = page.locator("#pickup-code").inner_text().replace(" ", "")
    assert re.fullmatch(r"\d{8}", code)
    expect(page.locator(".pickup-qr svg")).to_be_visible()

    counter = new_context().new_page()
    console_login(counter, seeded.cashier)
    counter.goto("/console/pickup")
    counter.fill("input[name=code]", code)
    counter.get_by_role("button", name="查找").click()
    expect(counter.locator("#pickup-order")).to_contain_text("× 1")
    counter.locator("#redeem").click()
    expect(counter.locator(".flash")).to_contain_text("已提货")

    page.reload()
    expect(page.locator("#order-status")).to_have_text("已完成")
    expect(page.locator("#timeline li")).to_have_count(3)
