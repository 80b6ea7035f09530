"""The home-page block editor picks a product grid's category by name (issue #14 item 10):
it asked for a raw category id."""

from __future__ import annotations

from typing import Any

import pytest

from loopmall.catalog.categories import create_category
from loopmall.catalog.schemas import CategoryIn
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.mall import get_mall_settings
from tests.browser.conftest import DESKTOP_VIEWPORT, LiveServer, console_login
from tests.factories import MadeStaff, make_merchant, make_staff

pytestmark = pytest.mark.browser


def _owner_with_categories(live_server: LiveServer) -> tuple[MadeStaff, dict[str, str]]:
    async def seed(state: AppState) -> tuple[MadeStaff, dict[str, str]]:
        tenant = await make_merchant(state, "vero", "VERO")
        made = {}
        async with UnitOfWork(state.write_factory) as uow:
            coats = await create_category(uow.session, tenant, CategoryIn(name="外套"))
            made["外套"] = coats.public_id
            wool = await create_category(
                uow.session, tenant, CategoryIn(name="羊绒大衣", parent=coats.public_id)
            )
            made["羊绒大衣"] = wool.public_id
            made["连衣裙"] = (
                await create_category(uow.session, tenant, CategoryIn(name="连衣裙"))
            ).public_id
            await uow.commit()
        return await make_staff(state, tenant), made

    return live_server.run(seed)


def _saved_blocks(live_server: LiveServer, tenant: Tenant) -> list[dict[str, Any]]:
    async def read(state: AppState) -> list[dict[str, Any]]:
        async with UnitOfWork(state.read_factory) as uow:
            return list((await get_mall_settings(uow.session, tenant)).blocks)

    return live_server.run(read)


def test_a_product_grid_takes_its_category_by_name(
    live_server: LiveServer, new_context: Any
) -> None:
    owner, categories = _owner_with_categories(live_server)
    page = new_context(viewport=DESKTOP_VIEWPORT).new_page()
    console_login(page, owner)
    page.goto("/console/settings")
    page.select_option("#block-type", "product_grid")
    page.click("#add-block")
    picker = page.locator(".block-item[data-type=product_grid] select[name=block-category_id]")
    picker = picker.last
    names = [o.strip() for o in picker.locator("option").all_inner_texts()]
    assert names == ["全部商品", "外套", "羊绒大衣", "连衣裙"]
    picker.select_option(label="\u3000羊绒大衣")
    page.click("#settings-form button[type=submit]")
    page.wait_for_load_state()
    grids = [b for b in _saved_blocks(live_server, owner.tenant) if b["type"] == "product_grid"]
    assert grids[-1]["category_id"] == categories["羊绒大衣"]

    # Reopened, the editor shows the category by its name.
    page.goto("/console/settings")
    again = page.locator(".block-item[data-type=product_grid] select[name=block-category_id]")
    assert again.last.locator("option:checked").inner_text().strip() == "羊绒大衣"
