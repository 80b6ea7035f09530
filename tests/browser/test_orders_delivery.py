"""On a phone: a shopper changes the cart (quantity, removal), checks out for delivery to
an address; once paid, the merchant ships it from the console's order page with a
tracking number, and the shopper confirms receipt."""

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
from tests.browser.conftest import DESKTOP_VIEWPORT, LiveServer, console_login
from tests.factories import MadeStaff, make_staff
from tests.orders.fixtures import BASE_PRICE, make_shop, mall_cookie, pay_in_mall

pytestmark = pytest.mark.browser


@dataclass
class Seeded:
    token: str
    owner: MadeStaff


async def seed(state: AppState) -> Seeded:
    shop = await make_shop(state, "shop")
    owner = await make_staff(state, shop.tenant)
    async with UnitOfWork(state.write_factory) as uow:
        customer, token = await sandbox_login(uow.session, shop.tenant, name="小红")
        for sku in shop.skus:
            await cart.add_to_cart(uow.session, shop.tenant, customer.id, sku.public_id, 1)
        await uow.commit()
    return Seeded(token, owner)


def test_delivery_order_from_cart_to_receipt(
    live_server: LiveServer, page: Page, new_context: Any
) -> None:
    seeded = live_server.run(seed)
    page.context.add_cookies(
        [mall_cookie(live_server.settings, live_server.url, "shop", seeded.token)]
    )
    page.goto("/m/shop/cart")
    lines = page.locator("#cart-lines li")
    expect(lines).to_have_count(2)
    lines.nth(0).locator("input[name=qty]").fill("3")
    lines.nth(0).get_by_role("button", name="更新").click()
    expect(page.locator("#cart-total")).to_have_text(f"¥{4 * BASE_PRICE // 100}.00")
    page.locator("#cart-lines li").nth(1).get_by_role("button", name="删除").click()
    expect(page.locator("#cart-lines li")).to_have_count(1)
    expect(page.locator("#cart-total")).to_have_text(f"¥{3 * BASE_PRICE // 100}.00")

    page.locator("#to-checkout").click()
    page.locator("#place-order").click()  # the browser refuses: the address is required
    expect(page).to_have_url(f"{live_server.url}/m/shop/checkout")
    page.fill("input[name=name]", "小红")
    page.fill("input[name=phone]", "13900000001")
    page.fill("textarea[name=address]", "杭州市西湖区文三路 100 号")
    page.locator("#place-order").click()
    page.wait_for_url(re.compile(r".*/m/shop/pay/ord_\w+$"))
    public_id = page.url.rsplit("/", 1)[1]

    assert live_server.run(lambda state: pay_in_mall(state, "shop", public_id)) == "paid"
    console = new_context(viewport=DESKTOP_VIEWPORT).new_page()
    console_login(console, seeded.owner)
    console.goto("/console/orders?status=paid")
    console.locator(f"tr[data-order='{public_id}'] a").click()
    console.fill("input[name=carrier]", "顺丰")
    console.fill("input[name=tracking_no]", "SF100200")
    console.locator("#ship").click()
    expect(console.locator("#order-status")).to_have_text("已发货")
    expect(console.locator(".flash")).to_contain_text("已标记为已发货")

    page.goto(f"/m/shop/orders/{public_id}")
    expect(page.locator("#order-status")).to_have_text("已发货")
    expect(page.locator("article.order")).to_contain_text("SF100200")
    page.locator("#confirm-receipt").click()
    expect(page.locator("#order-status")).to_have_text("已完成")
