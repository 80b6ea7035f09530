"""A visitor on a phone opens a product and picks colour and size: the price, the WeChat
price and the stock follow the chosen SKU."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.storefront.seed import seed_mall

pytestmark = pytest.mark.browser


def test_sku_picker_follows_the_choice(live_server: LiveServer, page: Page) -> None:
    mall = live_server.run(seed_mall)
    page.goto("/m/vero/")
    page.get_by_role("link", name="羊毛大衣").first.click()
    expect(page).to_have_url(f"{live_server.url}/m/vero/p/{mall.coat}")
    expect(page.locator("#stock")).to_contain_text("请选择")

    page.locator("label.chip", has_text="黑").click()
    page.locator("label.chip", has_text="M").click()
    expect(page.locator("#price")).to_have_text("¥599.00")
    expect(page.locator("#wechat-price")).to_be_visible()
    expect(page.locator("#wechat-price")).to_contain_text("499.00")
    expect(page.locator("#stock")).to_have_text("有货：5 件")
    assert page.locator("#sku").input_value() == mall.skus["黑/M"]

    page.locator("label.chip", has_text="驼").click()
    page.locator("label.chip", has_text="L").click()
    expect(page.locator("#wechat-price")).to_be_hidden()
    expect(page.locator("#stock")).to_have_text("线上已售罄；门店有 2 件可自提")
    assert page.locator("#sku").input_value() == mall.skus["驼/L"]

    page.locator("label.chip", has_text="M").click()
    expect(page.locator("#stock")).to_have_text("已售罄")
