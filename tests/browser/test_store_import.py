"""In Chromium: import a stores file with a bad row, see the report, fix it, see the stores."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.models import Store
from tests.browser.conftest import DESKTOP_VIEWPORT, LiveServer
from tests.imports.samples import (
    STAFF_HEADERS_ZH,
    STORE_HEADERS_ZH,
    staff_row,
    store_row,
    to_csv,
    to_xlsx,
)

pytestmark = pytest.mark.browser

# The bar has drawn all the way (its width eases in with a CSS transition).
FULL_BAR = """() => {
  const bar = document.querySelector('#import-progress .progress > span');
  return bar.getBoundingClientRect().width >= bar.parentElement.getBoundingClientRect().width - 1;
}"""


def store_names(server: LiveServer) -> list[str]:
    async def names(state: AppState) -> list[str]:
        async with UnitOfWork(state.read_factory) as uow:
            rows = await uow.session.scalars(select(Store.name).order_by(Store.code))
            return list(rows)

    return server.run(names)


def store_count(server: LiveServer) -> int:
    async def count(state: AppState) -> int:
        async with UnitOfWork(state.read_factory) as uow:
            return int(await uow.session.scalar(select(func.count()).select_from(Store)) or 0)

    return server.run(count)


def test_stores_import_with_a_bad_row_then_fixed(
    live_server: LiveServer,
    page: Any,
    login: Callable[..., None],
    tmp_path: Path,
) -> None:
    owner = live_server.make_owner()
    login(page, owner)

    # given a GBK file, as Excel in China saves it, whose third store has latitude 95
    rows = [store_row(1), store_row(2), store_row(3, latitude="95")]
    bad = tmp_path / "门店-有错.csv"
    bad.write_bytes(to_csv(STORE_HEADERS_ZH, rows, "gbk"))

    # when it is uploaded on the import page
    page.goto("/console/stores/import")
    expect(page.locator("h1")).to_have_text("导入门店")
    page.set_input_files("#import-file", str(bad))
    page.click("#import-submit")

    # then the report names that row (4 in Excel) and column, and says nothing was imported
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.nth(0).locator("td")).to_have_text(["4", "纬度", "纬度必须在 -90 到 90 之间"])
    expect(page.locator("#import-result .flash.error")).to_contain_text("未导入任何数据")
    expect(page.locator("#recent-imports tbody tr")).to_have_count(1)
    expect(page.locator("#recent-imports tbody tr td").nth(2)).to_have_text("已拒绝")
    page.screenshot(path=str(tmp_path / "1-rejected.png"), full_page=True)

    # and nothing was written: the stores list is still empty
    assert store_count(live_server) == 0
    page.goto("/console/stores")
    expect(page.locator("h1")).to_have_text("门店")
    expect(page.get_by_text("南京西路1号店")).to_have_count(0)

    # when the fixed file is uploaded
    fixed = tmp_path / "门店.csv"
    rows[2] = store_row(3)
    fixed.write_bytes(to_csv(STORE_HEADERS_ZH, rows, "gbk"))
    page.goto("/console/stores/import")
    page.set_input_files("#import-file", str(fixed))
    page.click("#import-submit")

    # then the progress completes and the summary shows
    expect(page.locator("#import-result .flash.ok")).to_have_text("已导入 3 行：新增 3，更新 0。")
    expect(page.locator("#import-progress .progress")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#import-errors")).to_have_count(0)
    page.wait_for_function(FULL_BAR)
    expect(page.locator("#recent-imports tbody tr")).to_have_count(2)
    page.screenshot(path=str(tmp_path / "2-imported.png"), full_page=True)
    assert store_names(live_server) == ["南京西路1号店", "南京西路2号店", "南京西路3号店"]

    # and the stores list shows them
    page.click("#back-to-list")
    page.wait_for_url("**/console/stores")
    for name in ("南京西路1号店", "南京西路2号店", "南京西路3号店"):
        expect(page.get_by_text(name).first).to_be_visible()
    page.screenshot(path=str(tmp_path / "3-stores.png"), full_page=True)


def test_staff_import_on_a_desktop_reports_an_unknown_store(
    live_server: LiveServer,
    new_context: Callable[..., Any],
    login: Callable[..., None],
    tmp_path: Path,
) -> None:
    owner = live_server.make_owner()
    page = new_context(viewport=DESKTOP_VIEWPORT, locale="en-US").new_page()
    login(page, owner)
    stores = tmp_path / "stores.xlsx"
    stores.write_bytes(to_xlsx(STORE_HEADERS_ZH, [store_row(1), store_row(2)]))
    page.goto("/console/stores/import?lang=en")
    page.set_input_files("#import-file", str(stores))
    page.click("#import-submit")
    expect(page.locator("#import-result .flash.ok")).to_have_text(
        "Imported 2 row(s): 2 new, 0 updated."
    )

    # a guide in a store that does not exist, in an XLSX workbook
    staff = tmp_path / "guides.xlsx"
    staff.write_bytes(to_xlsx(STAFF_HEADERS_ZH, [staff_row(1), staff_row(2, stores="SH001|SH404")]))
    page.goto("/console/staff/import")
    expect(page.locator("h1")).to_have_text("Import staff")
    page.set_input_files("#import-file", str(staff))
    page.click("#import-submit")
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.nth(0).locator("td")).to_have_text(["3", "门店", "No store with code SH404"])
    page.screenshot(path=str(tmp_path / "staff-rejected-desktop.png"), full_page=True)

    # the template downloads with Chinese headers
    with page.expect_download() as download:
        page.click("#template-link")
    content = Path(download.value.path()).read_bytes()
    assert content.startswith("\ufeff手机号*,姓名*,角色*".encode())
