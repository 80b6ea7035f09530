"""In Chromium: a chain's store picker. The staff form lists the first 30 stores; typing a
store's code asks the stores API, the store appears, is chosen, and the guide is saved in it.
Without JavaScript the same box narrows the list through the page's own search form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import text

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from tests.browser.conftest import LiveServer


def _stores(server: LiveServer, merchant_id: int, n: int) -> None:
    async def insert(state: AppState) -> None:
        async with UnitOfWork(state.write_factory) as uow:
            now = clock.now().strftime("%Y-%m-%d %H:%M:%S.%f")
            await uow.session.execute(
                text(
                    "INSERT INTO stores (merchant_id, public_id, code, name, city, district, "
                    "address, phone, opening_hours, pickup_enabled, status, note, created_at, "
                    "updated_at) SELECT :m, 'st_' || printf('%016d', x), 'S' || printf('%04d', x), "
                    "'门店' || x, '', '', '', '', '{}', 1, 'open', '', :now, :now FROM "
                    "(WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g "
                    "WHERE x < :n) SELECT x FROM g)"
                ),
                {"m": merchant_id, "n": n, "now": now},
            )
            await uow.commit()

    server.run(insert)


def test_a_guide_is_added_in_a_store_found_by_typing(
    live_server: LiveServer, page: Any, login: Callable[..., None]
) -> None:
    owner = live_server.make_owner()
    _stores(live_server, owner.tenant.id, 300)
    login(page, owner)

    page.goto("/console/staff/new")
    picker = page.locator("select[name=stores] option")
    expect(picker).to_have_count(30)
    expect(page.locator("[data-store-picker-more]")).to_be_visible()

    page.fill("input[name=store_q]", "S0277")
    expect(picker).to_have_count(1)
    expect(picker.first).to_have_text("门店277 (S0277)")
    page.select_option("select[name=stores]", "st_0000000000000277")
    page.fill("input[name=name]", "小王")
    page.fill("input[name=phone]", "13900000001")
    page.select_option("select[name=role]", "guide")
    page.get_by_role("button", name="保存").click()

    expect(page.locator(".flash")).to_have_text("已保存。")
    chosen = page.locator("select[name=stores] option:checked")
    expect(chosen).to_have_count(1)
    expect(chosen.first).to_have_text("门店277 (S0277)")


def test_without_javascript_the_search_form_narrows_the_list(
    live_server: LiveServer, new_context: Callable[..., Any], login: Callable[..., None]
) -> None:
    owner = live_server.make_owner()
    _stores(live_server, owner.tenant.id, 300)
    page = new_context(java_script_enabled=False).new_page()
    login(page, owner)

    page.goto("/console/orders")
    page.fill("input[name=store_q]", "门店123")
    page.click("#order-filter button[type=submit]")
    options = page.locator("select[name=store] option[data-store]")
    expect(options).to_have_count(1)
    expect(options.first).to_have_text("门店123 (S0123)")
