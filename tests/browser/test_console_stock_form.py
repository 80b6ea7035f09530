"""The stock-adjustment form offers a new product's SKUs at once (issue #14 item 8): with
more SKUs than a page, it offered only the first page's, oldest first, until the list was
filtered."""

from __future__ import annotations

from typing import Any

import pytest

from loopmall.catalog.schemas import ProductIn, SkuIn
from loopmall.catalog.service import create_product
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from tests.browser.conftest import DESKTOP_VIEWPORT, LiveServer, console_login
from tests.factories import MadeStaff, make_merchant, make_staff

pytestmark = pytest.mark.browser

NEW = "新品风衣"


def _owner_with_a_new_product(live_server: LiveServer) -> MadeStaff:
    async def seed(state: AppState) -> MadeStaff:
        tenant = await make_merchant(state, "vero", "VERO")
        async with UnitOfWork(state.write_factory) as uow:
            for n in range(25):  # more SKUs than the stock page's 20
                await create_product(
                    uow.session,
                    tenant,
                    ProductIn(title=f"老款{n}", status="active", skus=[SkuIn(price=9900)]),
                )
            await create_product(
                uow.session,
                tenant,
                ProductIn(
                    title=NEW,
                    status="active",
                    option_names=["尺码"],
                    skus=[SkuIn(options={"尺码": s}, price=59900) for s in ("M", "L")],
                ),
            )
            await uow.commit()
        return await make_staff(state, tenant)

    return live_server.run(seed)


def test_the_adjustment_form_offers_a_new_products_skus_unfiltered(
    live_server: LiveServer, new_context: Any
) -> None:
    owner = _owner_with_a_new_product(live_server)
    page = new_context(viewport=DESKTOP_VIEWPORT).new_page()
    console_login(page, owner)
    page.goto("/console/stock")
    offered = page.locator("#adjust-form select[name=sku] option").all_inner_texts()
    assert sum(NEW in o for o in offered) == 2, offered
    page.select_option("#adjust-form select[name=sku]", index=0)
    assert NEW in page.locator("#adjust-form select[name=sku] option:checked").inner_text()
    page.fill("#adjust-form input[name=delta]", "12")
    page.fill("#adjust-form input[name=reason]", "新品到货")
    page.click("#adjust-form button[type=submit]")
    page.wait_for_url("**/console/stock?*ok=adjusted*")
    page.goto(f"/console/stock?q={NEW}")
    stocked = page.locator("tr[data-sku]").all_inner_texts()
    assert sum("12" in row for row in stocked) == 1, stocked
