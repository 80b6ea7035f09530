"""The product page's buy bar on a phone (issue #14 item 12): fixed at the bottom in place of
the tab bar, it shows the chosen SKU and its price and adds that SKU to the cart (or goes on
to the checkout). Before it, the add-to-cart button sat below the fold, under the tab bar.
Without script the bar still posts the form, with the SKU chosen from a plain list."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from loopmall.catalog.schemas import SkuPatch
from loopmall.catalog.service import update_sku
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.inventory.locations import default_warehouse
from loopmall.inventory.service import adjust_stock
from tests.browser.conftest import LiveServer
from tests.storefront.seed import Mall, seed_mall

pytestmark = pytest.mark.browser


async def seed(state: AppState) -> Mall:
    """VERO's coat, with black L dearer (¥649) and 3 of it online."""
    mall = await seed_mall(state)
    async with UnitOfWork(state.write_factory) as uow:
        s = uow.session
        black_l = await update_sku(s, mall.tenant, mall.skus["黑/L"], SkuPatch(price=64900))
        warehouse = await default_warehouse(s, mall.tenant)
        await adjust_stock(
            s,
            mall.tenant,
            sku_id=black_l.sku.id,
            location_id=warehouse.id,
            delta=3,
            reason="入库",
            actor="test",
        )
        await uow.commit()
    return mall


def _log_in(page: Page, coat: str) -> None:
    page.goto(f"/m/vero/login?next=/m/vero/p/{coat}")
    page.fill("#sandbox-name", "小红")
    page.click("#sandbox-login")
    page.wait_for_url(f"**/m/vero/p/{coat}")


def _in_viewport(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    return box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]


def _cart_line(page: Page, sku: str) -> Any:
    return page.locator(f"#cart-lines li[data-sku='{sku}']")


def test_the_bar_follows_the_sku_and_adds_it_to_the_cart(
    live_server: LiveServer, page: Page
) -> None:
    mall = live_server.run(seed)
    _log_in(page, mall.coat)

    # Given the product page on a phone, unscrolled: the bar is in view, the tab bar is not.
    assert page.evaluate("window.scrollY") == 0
    expect(page.locator("#buy-bar")).to_be_visible()
    assert _in_viewport(page, "#add-to-cart")
    assert _in_viewport(page, "#buy-now")
    expect(page.locator("nav.mall-tabs")).to_have_count(0)
    expect(page.locator("#bar-sku")).to_have_text("请选择 颜色 / 尺码")
    expect(page.locator("#bar-price")).to_have_text("¥599.00 – ¥649.00")

    # When the shopper picks black M, then L: the bar shows each SKU and its price.
    page.locator("label.chip", has_text="黑").click()
    page.locator("label.chip", has_text="M").click()
    expect(page.locator("#bar-sku")).to_have_text("黑 / M")
    expect(page.locator("#bar-price")).to_have_text("¥599.00")
    page.locator("label.chip", has_text="L").click()
    expect(page.locator("#bar-sku")).to_have_text("黑 / L")
    expect(page.locator("#bar-price")).to_have_text("¥649.00")

    # Then the bar's add to cart puts black L in the cart, at its price.
    page.locator("#add-to-cart").click()
    page.wait_for_url(re.compile(r".*/m/vero/cart$"))
    expect(page.locator("#cart-lines li")).to_have_count(1)
    expect(_cart_line(page, mall.skus["黑/L"])).to_contain_text("¥649.00")

    # And "buy now" adds black M and goes straight on to the checkout.
    page.goto(f"/m/vero/p/{mall.coat}")
    page.locator("label.chip", has_text="黑").click()
    page.locator("label.chip", has_text="M").click()
    page.locator("#buy-now").click()
    page.wait_for_url(re.compile(r".*/m/vero/checkout$"))
    page.goto("/m/vero/cart")
    expect(_cart_line(page, mall.skus["黑/M"])).to_contain_text("¥599.00")


def test_a_sold_out_sku_cannot_be_bought_from_the_bar(live_server: LiveServer, page: Page) -> None:
    mall = live_server.run(seed)
    _log_in(page, mall.coat)
    page.locator("label.chip", has_text="驼").click()
    page.locator("label.chip", has_text="M").click()
    expect(page.locator("#bar-sku")).to_have_text("驼 / M")
    expect(page.locator("#add-to-cart")).to_be_disabled()
    expect(page.locator("#buy-now")).to_be_disabled()


def test_without_script_the_bar_posts_the_sku_chosen_from_the_list(
    live_server: LiveServer, new_context: Any
) -> None:
    mall = live_server.run(seed)
    page = new_context(java_script_enabled=False).new_page()
    _log_in(page, mall.coat)
    assert _in_viewport(page, "#add-to-cart")
    # The chips need script; the plain list names every SKU with its price.
    expect(page.locator("fieldset.opt").first).to_be_hidden()
    page.select_option("#sku-list", label="黑 / L · ¥649.00")
    page.locator("#add-to-cart").click()
    page.wait_for_url(re.compile(r".*/m/vero/cart$"))
    expect(page.locator("#cart-lines li")).to_have_count(1)
    expect(_cart_line(page, mall.skus["黑/L"])).to_contain_text("¥649.00")


def test_a_visitor_is_offered_the_login_in_the_bar(live_server: LiveServer, page: Page) -> None:
    mall = live_server.run(seed)
    page.goto(f"/m/vero/p/{mall.coat}")
    login = page.locator("#buy-bar").get_by_role("link", name="登录后购买")
    expect(login).to_be_visible()
    assert _in_viewport(page, "#buy-bar a.buy")
    expect(page.locator("#add-to-cart")).to_have_count(0)
