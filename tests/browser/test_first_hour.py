"""Issue #14's "done when": from the links `loopmall demo` prints, a newcomer reaches the
flash sale from the mall, buys something and pays, and finds the console's pages in both
languages — the demo's own database, served as `make demo` serves it (the stand-ins aside:
the purchase is paid with the sandbox's button, which the demo switches on)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Page, expect

from loopmall.app import create_app
from loopmall.config import Settings
from tests.browser.conftest import DESKTOP_VIEWPORT, PHONE_VIEWPORT, STARTUP_SECONDS, free_port

pytestmark = pytest.mark.browser

LOOPMALL = Path(sys.executable).parent / "loopmall"


@dataclass
class Demo:
    url: str
    printed: str

    def link(self, label: str) -> str:
        """The URL on the printed line that starts with ``label``."""
        for line in self.printed.splitlines():
            if line.startswith(label):
                found = re.search(r"https?://\S+", line)
                assert found is not None, line
                return found.group(0)
        raise AssertionError(f"no printed line starts with {label!r}")

    def login(self, who: str) -> tuple[str, str, str]:
        """(merchant, account, password) of the printed login for ``who``."""
        pattern = rf"- {re.escape(who)}: merchant (\S+), (\S+), password (\S+)$"
        for line in self.printed.splitlines():
            found = re.match(pattern, line)
            if found:
                return found.group(1), found.group(2), found.group(3)
        raise AssertionError(f"no printed login for {who!r}")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """`loopmall demo` run in a fresh data folder, then served on the port it printed."""
    port = free_port()
    env = {
        **os.environ,
        "LOOPMALL_DATA_DIR": str(tmp_path),
        "LOOPMALL_DATABASE_URL": "",
        "LOOPMALL_PORT": str(port),
    }
    done = subprocess.run(
        [str(LOOPMALL), "demo"], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        database_url="",
        base_url=url,
        host="127.0.0.1",
        port=port,
        auto_migrate=False,
        run_background=True,
        secret_key="first-hour-secret",
        sandbox_login=True,  # as `loopmall demo --serve` has them
        sandbox_payments=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the demo did not start on {url}")
        time.sleep(0.05)
    try:
        yield Demo(url, done.stdout)
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_SECONDS)


def _context(browser: Any, **options: Any) -> Any:
    settings = {"viewport": PHONE_VIEWPORT, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
    context = browser.new_context(**(settings | options))
    context.set_default_timeout(15_000)
    return context


def _console_login(page: Page, demo: Demo, who: str) -> None:
    merchant, phone, password = demo.login(who)
    page.goto(demo.link("Console:"))
    page.fill("input[name=merchant]", merchant)
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", password)
    page.click("form[action='/console/login'] button[type=submit]")
    page.wait_for_url("**/console")


def _buy_and_pay(page: Page, demo: Demo) -> str:
    """From the fruit stall's printed link: log in (the one-tap demo login), buy its first
    product for delivery, pay with the sandbox."""
    page.goto(demo.link("Mall of fruit"))
    page.locator("a.shelf-card").first.click()
    product = page.url
    if page.locator("#add-to-cart").count() == 0:  # not logged in yet: the login comes first
        page.goto(f"{demo.url}/m/fruit/login?next={product.removeprefix(demo.url)}")
        page.fill("#sandbox-name", "小新")
        page.click("#sandbox-login")
        page.wait_for_url(product)
    page.locator("label.chip", has_text="标准").click()
    page.locator("#add-to-cart").click()
    page.wait_for_url(re.compile(r".*/m/fruit/cart$"))
    page.locator("#to-checkout").click()
    page.fill("input[name=name]", "小新")
    page.fill("input[name=phone]", "13900000123")
    page.fill("textarea[name=address]", "南京市鼓楼区北京西路 1 号")
    page.locator("#place-order").click()
    page.wait_for_url(re.compile(r".*/m/fruit/pay/ord_\w+$"))
    page.locator("button[data-method=sandbox]").click()
    page.locator("#sandbox-pay").click()
    page.wait_for_url(re.compile(r".*/m/fruit/orders/ord_\w+$"), timeout=20_000)
    expect(page.locator("#order-status")).to_have_text("已支付")
    return page.url.rsplit("/", 1)[1]


def test_from_the_printed_links_to_the_flash_sale_a_purchase_and_the_console(
    demo: Demo, browser: Any
) -> None:
    # The flash sale: from VERO's mall, through its banner, open for reservations.
    shopper = _context(browser).new_page()
    shopper.goto(demo.link("Mall of vero"))
    banner = shopper.locator("a.banner", has_text="限时秒杀")
    expect(banner).to_be_visible()
    banner.click()
    shopper.wait_for_url(re.compile(r".*/m/vero/flash/fs_\w+$"))
    assert shopper.url == demo.link("Flash sale")
    expect(shopper.locator("h1")).to_contain_text("微信专享秒杀")

    # A purchase at the fruit stall, paid.
    buyer = _context(browser).new_page()
    order = _buy_and_pay(buyer, demo)

    # The console in both languages: VERO's owner, and the fruit stall's owner with the order.
    owner = _context(browser, viewport=DESKTOP_VIEWPORT, base_url=demo.url).new_page()
    _console_login(owner, demo, "owner of VERO 时装")
    pages = {
        "/console/stores": ("门店", "Stores"),
        "/console/products": ("商品", "Products"),
        "/console/orders": ("订单", "Orders"),
        "/console/flash-sales": ("秒杀", "Flash sales"),
    }
    for path, (chinese, english) in pages.items():
        owner.goto(f"{path}?lang=en")
        expect(owner.locator("h1").first).to_contain_text(english)
        owner.goto(f"{path}?lang=zh")
        expect(owner.locator("h1").first).to_contain_text(chinese)
    owner.goto("/console/flash-sales")
    expect(owner.locator("body")).to_contain_text("微信专享秒杀")

    fruit = _context(browser, viewport=DESKTOP_VIEWPORT, base_url=demo.url).new_page()
    _console_login(fruit, demo, "owner of 阿强水果")
    fruit.goto("/console/orders?lang=en")
    expect(fruit.locator("body")).to_contain_text("Paid")
    fruit.goto("/console/orders?lang=zh")
    expect(fruit.locator("body")).to_contain_text("已支付")
    assert order.startswith("ord_")
