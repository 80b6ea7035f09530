"""The console's store list, newest first with search (issue #14 item 9): with more stores
than a page, the store just created was on the last page of an oldest-first list."""

from __future__ import annotations

from typing import Any

import pytest

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.stores import create_store
from tests.browser.conftest import DESKTOP_VIEWPORT, LiveServer, console_login
from tests.factories import MadeStaff, make_merchant, make_staff

pytestmark = pytest.mark.browser

OLD_STORES = 55  # more than the list's page of 50


def _owner_with_many_stores(live_server: LiveServer) -> MadeStaff:
    async def seed(state: AppState) -> MadeStaff:
        tenant = await make_merchant(state, "vero", "VERO")
        async with UnitOfWork(state.write_factory) as uow:
            for n in range(1, OLD_STORES + 1):
                await create_store(
                    uow.session, tenant, code=f"S{n:03}", name=f"老店{n}", city="上海"
                )
            await uow.commit()
        return await make_staff(state, tenant)

    return live_server.run(seed)


def test_a_new_store_is_first_in_the_list_and_an_old_one_is_found_by_search(
    live_server: LiveServer, new_context: Any
) -> None:
    owner = _owner_with_many_stores(live_server)
    page = new_context(viewport=DESKTOP_VIEWPORT).new_page()
    console_login(page, owner)
    page.goto("/console/stores/new")
    page.fill("input[name=code]", "NEW01")
    page.fill("input[name=name]", "新开的静安店")
    page.click("#store-form button[type=submit]")
    page.wait_for_url("**/console/stores/st_*")

    page.goto("/console/stores")
    codes = page.locator("#stores-table tbody tr td:first-child").all_inner_texts()
    assert codes[:3] == ["NEW01", f"S{OLD_STORES:03}", f"S{OLD_STORES - 1:03}"]
    assert len(codes) == 50
    page.click(".pager a")  # the next page goes on to older stores
    older = page.locator("#stores-table tbody tr td:first-child").all_inner_texts()
    assert older == [f"S{n:03}" for n in range(6, 0, -1)]

    page.goto("/console/stores")
    page.fill("input[name=q]", "S003")
    page.click("form[role=search] button[type=submit]")
    found = page.locator("#stores-table tbody tr td:first-child").all_inner_texts()
    assert found == ["S003"]
