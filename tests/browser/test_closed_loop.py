"""The closed loop (issue #3, S1), clicked through on a phone: a consumer logs in with the
demo login, picks two SKUs on the product page, checks out for store pickup, pays with
WeChat Pay (Native QR) at the WeChat Pay stand-in, whose signed and encrypted callback
reaches our server; the order page shows the pickup code; the store's cashier types it at
the console's pickup counter and hands the order over; the order steps are in the inbox."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from loopmall.catalog.repository import sku_with_product
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.inventory.locations import location_for_store
from loopmall.inventory.service import adjust_stock
from loopmall.merchants.models import Store
from loopmall.payments import accounts
from loopmall.standins.harness import PaymentStandins
from tests.browser.conftest import DESKTOP_VIEWPORT, LiveServer, console_login
from tests.factories import MadeStaff, make_staff
from tests.storefront.seed import Mall, seed_mall

pytestmark = pytest.mark.browser


@dataclass
class World:
    mall: Mall
    cashier: MadeStaff


def test_buy_two_skus_for_pickup_pay_with_wechat_and_collect(
    pay_env: PaymentStandins, live_server: LiveServer, page: Page, new_context: Any
) -> None:
    keys = pay_env.new_wechatpay_merchant(name="VERO 微商城")

    async def seed(state: AppState) -> World:
        mall = await seed_mall(state)
        async with UnitOfWork(state.write_factory) as uow:
            s = uow.session
            store_id = await s.scalar(select(Store.id).where(Store.merchant_id == mall.tenant.id))
            assert store_id is not None
            shop = await location_for_store(s, mall.tenant, store_id)
            for name in ("黑/M", "驼/L"):
                sku, _product = await sku_with_product(s, mall.tenant, mall.skus[name])
                await adjust_stock(
                    s,
                    mall.tenant,
                    sku_id=sku.id,
                    location_id=shop.id,
                    delta=3,
                    reason="铺货",
                    actor="test",
                )
            await accounts.configure_account(s, mall.tenant, "wechatpay", asdict(keys.config))
            await uow.commit()
        cashier = await make_staff(
            state, mall.tenant, phone="13800000009", role="cashier", store_ids=(store_id,)
        )
        return World(mall, cashier)

    world = live_server.run(seed)
    mall = world.mall

    # Log in from the product page with the demo login and come back to it.
    page.goto(f"/m/vero/p/{mall.coat}")
    page.get_by_role("link", name="登录后购买").click()
    page.locator("#sandbox-name").fill("小红")
    page.locator("#sandbox-login").click()
    expect(page).to_have_url(f"{live_server.url}/m/vero/p/{mall.coat}")

    # Two SKUs into the cart.
    for colour, size in (("黑", "M"), ("驼", "L")):
        page.goto(f"/m/vero/p/{mall.coat}")
        page.locator("label.chip", has_text=colour).click()
        page.locator("label.chip", has_text=size).click()
        page.locator("#add-to-cart").click()
        page.wait_for_url(re.compile(r".*/m/vero/cart"))
    expect(page.locator("#cart-lines li")).to_have_count(2)

    # Check out for pickup at the store.
    page.locator("#to-checkout").click()
    page.locator("#choose-pickup").click()
    expect(page.locator("#pickup-stores")).to_contain_text("西单店")
    page.locator("#pickup-stores input[name=store]").first.check()
    expect(page.locator("#checkout-total")).to_have_text("¥1198.00")
    page.locator("#place-order").click()
    page.wait_for_url(re.compile(r".*/m/vero/pay/ord_\w+$"))
    order_id = page.url.rsplit("/", 1)[1]

    # Pay with WeChat Pay: the QR code, scanned (the stand-in's payer page), confirmed.
    page.locator("button[data-method=wechat_native]").click()
    expect(page.locator("#pay-qr")).to_be_visible()
    with page.expect_popup() as popup:
        page.locator("#demo-payer").click()
    payer = popup.value
    expect(payer.locator("body")).to_contain_text("1198.00")
    payer.get_by_role("button", name="确认支付").click()
    expect(payer.locator("body")).to_contain_text("支付成功")

    # The callback reached us: the pay page goes to the paid order with its pickup code.
    page.wait_for_url(re.compile(rf".*/m/vero/orders/{order_id}"), timeout=15_000)
    expect(page.locator("#order-status")).to_have_text("已支付")
    code = page.locator("#pickup-code").inner_text().replace(" ", "")
    assert re.fullmatch(r"\d{8}", code)

    # The store's cashier hands the order over at the pickup counter.
    counter = new_context(viewport=DESKTOP_VIEWPORT).new_page()
    console_login(counter, world.cashier)
    counter.goto("/console/pickup")
    counter.fill("input[name=code]", code)
    counter.get_by_role("button", name="查找").click()
    expect(counter.locator("#pickup-order")).to_contain_text("羊毛大衣")
    counter.locator("#redeem").click()
    expect(counter.locator(".flash")).to_contain_text("已提货")

    page.reload()
    expect(page.locator("#order-status")).to_have_text("已完成")

    # Each step reached the consumer's inbox through the outbox.
    page.goto("/m/vero/inbox")
    for topic in ("order.created", "order.paid", "order.completed"):
        page.reload()
        expect(page.locator(f'.inbox-item[data-topic="{topic}"]')).to_have_count(1, timeout=10_000)
