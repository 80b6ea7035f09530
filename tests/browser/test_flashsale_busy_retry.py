"""The flash-sale page asks again when the server says "busy, come back in n seconds" (503
with Retry-After): it waits that long, tells the shopper 排队中，请稍候 meanwhile, and buys
when the server lets it; a bounded number of times, and not at all without Retry-After.
Before, the first 503 showed "something went wrong".

The busy answers are faked with Playwright's ``page.route`` (the first few, then the real
server answers): what is tested is the page's own retry logic."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import LiveServer
from tests.flashsale.fixtures import make_sale

pytestmark = pytest.mark.browser

BUSY_RETRIES = 5  # flashsale.js


@dataclass
class Busy:
    """Answers the first ``times`` requests 503 (with ``retry_after`` unless None), then lets
    them through to the server; notes when each request came."""

    times: int
    retry_after: str | None = "1"
    seen: list[float] | None = None

    def __call__(self, route: Route) -> None:
        self.seen = [*(self.seen or []), time.monotonic()]
        if len(self.seen) > self.times:
            route.continue_()
            return
        headers = {"Content-Type": "application/problem+json"}
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        problem = {"type": "about:blank", "status": 503, "code": "flash_busy", "title": "Busy"}
        route.fulfill(status=503, headers=headers, body=json.dumps(problem))

    @property
    def count(self) -> int:
        return len(self.seen or [])

    def gaps(self) -> list[float]:
        seen = self.seen or []
        return [b - a for a, b in itertools.pairwise(seen)]


def _reserved_on_the_sale_page(live_server: LiveServer, page: Page) -> str:
    # A sale on now, still taking reservations.
    sale = live_server.run(lambda state: make_sale(state, units=3, online_units=10))
    url = f"{live_server.url}/m/shop/flash/{sale.public_id}"
    page.goto(url)
    page.get_by_role("link", name="登录后预约").click()
    page.locator("#sandbox-name").fill("小红")
    page.locator("#sandbox-login").click()
    expect(page).to_have_url(url)
    page.locator("#reserve").click()
    expect(page.locator("#buy")).to_be_visible()
    return url


def _route(page: Page, step: str, handler: Callable[[Route], Any]) -> None:
    page.route(re.compile(rf".*/api/v1/mall/shop/flash/\w+/{step}$"), handler)


def test_busy_answers_are_waited_out_and_the_buy_goes_through(
    live_server: LiveServer, page: Page
) -> None:
    _reserved_on_the_sale_page(live_server, page)
    # Given the token request busy once and the buy attempt busy twice, each "retry in 1 s"
    token, buy = Busy(times=1), Busy(times=2)
    _route(page, "token", token)
    _route(page, "buy", buy)

    # When the shopper presses buy, they are told to wait in line
    page.locator("#buy").click()
    expect(page.locator("#result")).to_have_text("排队中，请稍候")

    # Then the page asks again after each second and the order is made
    expect(page.locator("#pay-now")).to_be_visible(timeout=15_000)
    expect(page.locator("#result")).to_have_attribute("data-status", "ordered")
    assert (token.count, buy.count) == (2, 3)
    assert all(1.0 <= gap < 2.5 for gap in token.gaps() + buy.gaps()), (token.gaps(), buy.gaps())


def test_the_retries_are_bounded(live_server: LiveServer, page: Page) -> None:
    _reserved_on_the_sale_page(live_server, page)
    # Given a token request that is always busy ("retry in 0 s")
    token = Busy(times=1000, retry_after="0")
    _route(page, "token", token)

    # When the shopper presses buy
    page.locator("#buy").click()

    # Then the page gives up after the first try and five retries, says so, and lets the
    # shopper try again
    expect(page.locator("#result")).to_have_text("仍在排队，请稍后再试", timeout=10_000)
    expect(page.locator("#buy")).to_be_enabled()
    page.wait_for_timeout(1500)
    assert token.count == 1 + BUSY_RETRIES


def test_a_503_without_retry_after_is_not_retried(live_server: LiveServer, page: Page) -> None:
    _reserved_on_the_sale_page(live_server, page)
    token = Busy(times=1, retry_after=None)
    _route(page, "token", token)
    page.locator("#buy").click()
    expect(page.locator("#result")).to_have_text("仍在排队，请稍后再试")
    page.wait_for_timeout(1500)
    assert token.count == 1
