"""The customer's address book (issue #14 item 13): the address of an order is kept, the
next checkout starts from the default one, and "我的" manages them (add, make default,
edit, remove). The delivery address was asked for again at every order."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.storefront.seed import seed_mall

pytestmark = pytest.mark.browser

HOME = ("小红", "13900000003", "北京市西城区西单北大街 120 号")
OFFICE = ("小红（公司）", "13900000004", "上海市静安区南京西路 1266 号 28 楼")


def _buy_the_coat(page: Page, coat: str) -> None:
    page.goto(f"/m/vero/p/{coat}")
    page.locator("label.chip", has_text="黑").click()
    page.locator("label.chip", has_text="M").click()
    page.locator("#add-to-cart").click()
    page.wait_for_url(re.compile(r".*/m/vero/cart$"))
    page.locator("#to-checkout").click()
    page.wait_for_url(re.compile(r".*/m/vero/checkout"))


def _form(page: Page) -> tuple[str, str, str]:
    return (
        page.input_value("input[name=name]"),
        page.input_value("input[name=phone]"),
        page.input_value("textarea[name=address]"),
    )


def test_the_address_is_kept_and_the_default_fills_the_checkout(
    live_server: LiveServer, new_context: Any
) -> None:
    mall = live_server.run(seed_mall)
    page = new_context().new_page()
    page.goto("/m/vero/login?next=/m/vero/me")
    page.fill("#sandbox-name", "小红")
    page.click("#sandbox-login")
    page.wait_for_url("**/m/vero/me")
    page.click("#addresses-link")
    expect(page.locator("#no-addresses")).to_be_visible()

    # The first order: typed in, then kept as the default.
    _buy_the_coat(page, mall.coat)
    assert _form(page) == ("", "", "")
    page.fill("input[name=name]", HOME[0])
    page.fill("input[name=phone]", HOME[1])
    page.fill("textarea[name=address]", HOME[2])
    page.locator("#place-order").click()
    page.wait_for_url(re.compile(r".*/m/vero/pay/ord_\w+$"))
    _buy_the_coat(page, mall.coat)
    assert _form(page) == HOME

    # In "我的": a second address, made the default; the checkout starts from it.
    page.goto("/m/vero/me/addresses")
    expect(page.locator("#addresses li.address")).to_have_count(1)
    expect(page.locator("#addresses li.address.default")).to_contain_text("默认")
    page.fill("#new-address input[name=name]", OFFICE[0])
    page.fill("#new-address input[name=phone]", OFFICE[1])
    page.fill("#new-address textarea[name=address]", OFFICE[2])
    page.check("#new-address input[name=make_default]")
    page.click("#add-address")
    page.wait_for_url("**/m/vero/me/addresses")
    expect(page.locator("#addresses li.address")).to_have_count(2)
    page.goto("/m/vero/checkout")
    assert _form(page) == OFFICE

    # Removing the default makes the other one the default again; an edit is kept.
    page.goto("/m/vero/me/addresses")
    office = page.locator("#addresses li.address.default")
    office.locator(".remove-address").click()
    page.wait_for_url("**/m/vero/me/addresses")
    home = page.locator("#addresses li.address.default")
    expect(home).to_have_count(1)
    home.locator("input[name=phone]").fill("13900000009")
    home.locator(".address-edit button[type=submit]").click()
    page.wait_for_url("**/m/vero/me/addresses")
    page.goto("/m/vero/checkout")
    assert _form(page) == (HOME[0], "13900000009", HOME[2])
