"""On a phone: a shopper logs in from the flash-sale page, reserves, waits for the
countdown to reach the start, buys at the gate, pays the order (sandbox) and sees the
result on the sale page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale import service
from loopmall.payments import accounts, sandbox
from tests.browser.conftest import LiveServer
from tests.orders.fixtures import make_shop

pytestmark = pytest.mark.browser

STARTS_IN = timedelta(seconds=8)


@dataclass
class Seeded:
    sale: str


async def seed(state: AppState) -> Seeded:
    shop = await make_shop(state, "shop", online_units=10, store_units=0, sku_count=1)
    now = clock.now()
    async with UnitOfWork(state.write_factory) as uow:
        await accounts.configure_account(
            uow.session, shop.tenant, "sandbox", sandbox.new_credentials()
        )
        sale = await service.create_sale(
            uow.session,
            shop.tenant,
            service.SaleSetup(
                sku_public_id=shop.skus[0].public_id,
                title="小米手机 微信专享",
                price_fen=199900,
                stock=3,
                reserve_from=now - timedelta(minutes=1),
                reserve_until=now + timedelta(hours=1),
                starts_at=now + STARTS_IN,
                ends_at=now + timedelta(hours=2),
            ),
        )
        await uow.commit()
        return Seeded(sale.public_id)


def test_reserve_wait_for_the_start_buy_and_pay(live_server: LiveServer, page: Page) -> None:
    seeded = live_server.run(seed)
    url = f"{live_server.url}/m/shop/flash/{seeded.sale}"
    page.goto(url)
    expect(page.locator("#countdown")).to_have_text(re.compile(r"\d\d:\d\d:\d\d"))

    # Log in from the sale page and come back to it; reserve.
    page.get_by_role("link", name="登录后预约").click()
    page.locator("#sandbox-name").fill("小红")
    page.locator("#sandbox-login").click()
    expect(page).to_have_url(url)
    page.locator("#reserve").click()
    expect(page.locator("#reserved")).to_contain_text("预约成功")

    # The countdown reaches zero and the page opens the sale by itself.
    expect(page.locator("#buy")).to_be_visible(timeout=(STARTS_IN.seconds + 10) * 1000)
    page.locator("#buy").click()
    expect(page.locator("#pay-now")).to_be_visible(timeout=15_000)
    expect(page.locator("#result")).to_have_attribute("data-status", "ordered")

    # The order pays on the normal pay page.
    page.locator("#pay-now").click()
    page.wait_for_url(re.compile(r".*/m/shop/pay/ord_\w+$"))
    page.locator("button[data-method=sandbox]").click()
    page.locator("#sandbox-pay").click()
    page.wait_for_url(re.compile(r".*/m/shop/orders/ord_\w+"), timeout=15_000)
    expect(page.locator("#order-status")).to_have_text("已支付")

    page.goto(url)
    expect(page.locator("#result")).to_have_attribute("data-status", "paid")
