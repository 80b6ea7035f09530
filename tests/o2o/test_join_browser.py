"""In Chromium: a phone scans a join poster, logs in, joins, and sees the member price on
the product page; the console's QR code list shows the scan and the new member."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from loopmall.catalog.models import Sku
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.o2o import service
from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP_VIEWPORT,
    IN_CI,
    LiveServer,
    console_login,
    context,
    live_server,
    new_context,
    page,
)
from tests.factories import MadeStaff, make_staff
from tests.storefront.seed import seed_mall

__all__ = ["context", "live_server", "new_context", "page"]
SHOTS = os.environ.get("LOOPMALL_SCREENSHOTS", "")


@pytest.fixture
def browser() -> Iterator[Any]:
    """Chromium for this one test. Not tests/browser's package-scoped one: Playwright's sync
    API keeps an event loop running while it lives, and the async tests of this package
    that run after it on the same worker could not start theirs."""
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield instance
        finally:
            instance.close()


def _seed(server: LiveServer) -> tuple[str, str, MadeStaff]:
    async def seed(state: AppState) -> tuple[str, str, MadeStaff]:
        mall = await seed_mall(state)
        owner = await make_staff(state, mall.tenant)
        async with UnitOfWork(state.write_factory) as uow:
            await uow.session.execute(
                update(Sku).where(Sku.public_id == mall.skus["黑/M"]).values(member_price=45000)
            )
            code = await service.create_channel(
                uow.session,
                mall.tenant,
                kind="join",
                poster_title="关注并入会",
                coupon_title="新会员礼",
                coupon_fen=1000,
            )
            await uow.commit()
        return code.code, mall.coat, owner

    return server.run(seed)


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_scan_join_and_see_the_member_price(
    live_server: LiveServer, page: Any, new_context: Any
) -> None:
    code, coat, owner = _seed(live_server)
    page.goto(f"/q/{code}")
    page.wait_for_url(f"**/m/vero/join/{code}")
    assert page.locator("#welcome-coupon").is_visible()
    _shot(page, "join-anonymous")
    page.click("#join-login")
    page.fill("#sandbox-name", "阿花")
    page.click("#sandbox-form button[type=submit]")
    page.wait_for_url(f"**/m/vero/join/{code}")
    page.click("#join-button")
    page.wait_for_url("**joined=1")
    assert page.locator("#member-status").inner_text() == "欢迎！您已成为会员。"
    _shot(page, "join-done")
    page.goto(f"/m/vero/p/{coat}")
    assert page.locator("#member-price").is_visible()
    assert page.locator("#price").inner_text() == "¥450.00 – ¥599.00"
    _shot(page, "product-member")

    desk = new_context(viewport=DESKTOP_VIEWPORT).new_page()
    console_login(desk, owner)
    desk.goto("/console/channels")
    row = desk.locator("#channels-table tbody tr").first
    assert row.locator("td.scans").inner_text() == "1"
    assert row.locator("td").nth(5).inner_text() == "1"  # members
    _shot(desk, "console-channels")
    row.locator("a").first.click()
    desk.wait_for_url("**/console/channels/qrc_*")
    assert desk.locator("#f-members").inner_text() == "1"
    _shot(desk, "console-channel")
