"""A platform operator signs in, finds a dead delivery, retries it, and it is delivered."""

from __future__ import annotations

import time
from typing import Any

import pytest

from loopmall.core.state import AppState
from tests.browser.conftest import DESKTOP_VIEWPORT, LiveServer
from tests.factories import PASSWORD, make_merchant
from tests.operations import world
from tests.operations.world import OPERATOR_EMAIL, OpsPing

pytestmark = pytest.mark.browser


def test_an_operator_retries_a_dead_delivery(live_server: LiveServer, new_context: Any) -> None:
    world.reset()

    async def seed(state: AppState) -> tuple[int, int]:
        await world.make_operator(state)
        acme = await make_merchant(state, "acme", "Acme")
        first, second = await world.make_dead(
            state, OpsPing(merchant_id=acme.id, n=1), OpsPing(merchant_id=acme.id, n=2)
        )
        return first.id, second.id

    first, second = live_server.run(seed)
    page = new_context(viewport=DESKTOP_VIEWPORT).new_page()
    page.goto("/platform/events/dead")
    page.wait_for_url("**/platform/login?next=/platform/events/dead")
    page.fill("input[name=email]", OPERATOR_EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/platform/login'] button[type=submit]")
    page.wait_for_url("**/platform/events/dead")

    row = page.locator(f"tr[data-delivery='{first}']")
    assert "test.ops_flaky" in row.inner_text() and "acme" in row.inner_text()
    assert "RuntimeError: gateway refused ping 1" in row.locator("summary").inner_text()
    assert not row.locator("pre").first.is_visible()  # the traceback waits behind <details>
    row.locator("summary").click()
    assert "Traceback (most recent call last):" in row.locator("pre").first.inner_text()

    world.gateway["down"] = False  # the cause is fixed
    row.locator(f"[data-retry='{first}']").click()
    page.wait_for_url("**/platform/events/dead?retried=1&skipped=0")
    assert "已重试 1 条投递" in page.locator("#flash").inner_text()
    assert page.locator(f"tr[data-delivery='{first}']").count() == 0
    assert page.locator(f"tr[data-delivery='{second}']").count() == 1

    # The server's own dispatcher delivers it on its next round.
    deadline = time.monotonic() + 15
    while ("acme", 1) not in world.delivered and time.monotonic() < deadline:
        time.sleep(0.1)
    assert world.delivered == [("acme", 1)]

    async def statuses(state: AppState) -> dict[int, str]:
        return {d.id: d.status for d in await world.deliveries(state)}

    assert {k: v for k, v in live_server.run(statuses).items() if k in (first, second)} == {
        first: "done",
        second: "dead",
    }
