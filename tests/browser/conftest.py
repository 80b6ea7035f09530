"""Browser tests: the real app served by uvicorn, driven through Debian's Chromium.

Fixtures for every later page test:

- ``live_server`` — a :class:`LiveServer`: the app from ``create_app`` on a fresh migrated
  SQLite database (a copy of the session's ``sqlite_template``), served by uvicorn in a
  background thread on a free 127.0.0.1 port, with the background work (outbox, periodic
  jobs) running as in the embedded default. ``live_server.url``; ``live_server.run(fn)``
  runs ``async fn(state)`` against the server's database (seed data, check results);
  ``live_server.make_owner()`` creates a merchant and its owner.
- ``browser`` (package) — headless Chromium at ``/usr/bin/chromium`` through Playwright's
  sync API (never a downloaded browser). Missing Chromium skips the tests, except with
  ``CI=true`` where it fails them.
- ``context`` / ``page`` — a fresh browser context on the live server (``base_url`` set, so
  ``page.goto("/console")`` works) with a phone viewport (390×844), Chinese first.
  ``new_context(**options)`` makes more (another user, a desktop viewport…).
- ``login`` — ``login(page, staff)`` logs in through the console's login form (the
  function itself is ``console_login``).

Mark browser tests ``@pytest.mark.browser`` and write them as plain (non-async) functions:
Playwright's sync API cannot run inside pytest-asyncio's event loop.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from loopmall.app import create_app
from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.standins.harness import PaymentStandins
from tests.built_routes import share_built_routes
from tests.factories import PASSWORD, MadeStaff, make_merchant, make_staff
from tests.standins.fixtures import payment_standins  # noqa: F401  (a fixture)

T = TypeVar("T")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE_VIEWPORT = {"width": 390, "height": 844}
DESKTOP_VIEWPORT = {"width": 1280, "height": 800}
IN_CI = os.environ.get("CI", "").lower() == "true"
STARTUP_SECONDS = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: Any

    def run(self, fn: Callable[[AppState], Awaitable[T]]) -> T:
        """Run ``async fn(state)`` on the server's database, from the test's thread.

        The state is built for the call and closed after it; SQLite in WAL mode lets it
        share the file with the running server. It runs on a thread of its own, since
        Playwright's sync API keeps an event loop running on the test's thread.
        """

        async def call() -> T:
            state = AppState.build(self.settings)
            try:
                return await fn(state)
            finally:
                await state.close()

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, call()).result()

    def make_owner(
        self,
        slug: str = "acme",
        name: str = "Acme",
        phone: str = "13800000001",
        password: str = PASSWORD,
    ) -> MadeStaff:
        """A merchant with an owner who can log in with ``password``."""

        async def seed(state: AppState) -> MadeStaff:
            tenant = await make_merchant(state, slug, name)
            return await make_staff(state, tenant, phone=phone, password=password)

        return self.run(seed)


@pytest.fixture
def live_server(sqlite_template: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """The app on a fresh migrated SQLite database, served on 127.0.0.1 in a thread."""
    database = tmp_path / "live.db"
    shutil.copyfile(sqlite_template, database)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        env="test",
        database_url=f"sqlite+aiosqlite:///{database}",
        data_dir=tmp_path / "data",
        base_url=url,
        host="127.0.0.1",
        port=port,
        auto_migrate=False,
        run_background=True,
        secret_key="browser-test-secret",
        sandbox_login=True,  # the one-tap login and the sandbox's pay button (off by default)
        sandbox_payments=True,
    )
    app = share_built_routes(create_app(settings))  # one build of the routes per process
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the live server did not start on {url}")
        time.sleep(0.02)
    try:
        yield LiveServer(url, settings, app)
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_SECONDS)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, shared by the browser tests of this package.

    Package scope, not session: Playwright's sync API keeps an event loop running on the
    main thread while it lives, and pytest-asyncio cannot start the async tests' loops
    then. pytest tears this down as soon as the next test is outside ``tests/browser``.
    """
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium; `make browser`)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def new_context(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """Make browser contexts on the live server: ``new_context(viewport=DESKTOP_VIEWPORT)``."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        settings = {
            "base_url": live_server.url,
            "viewport": PHONE_VIEWPORT,
            "locale": "zh-CN",
            "timezone_id": "Asia/Shanghai",
            "accept_downloads": True,
        }
        settings.update(options)
        context = browser.new_context(**settings)
        context.set_default_timeout(15_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def context(new_context: Callable[..., Any]) -> Any:
    """A phone-sized, Chinese-first browser context on the live server."""
    return new_context()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def console_login(page: Any, staff: MadeStaff, password: str = PASSWORD) -> None:
    """Log ``staff`` in through the console login form and land on the overview."""
    page.goto("/console/login")
    page.fill("input[name=merchant]", staff.tenant.slug)
    page.fill("input[name=phone]", staff.phone)
    page.fill("input[name=password]", password)
    page.click("form[action='/console/login'] button[type=submit]")
    page.wait_for_url("**/console")


@pytest.fixture
def login() -> Callable[..., None]:
    """``login(page, staff, password=PASSWORD)``: log in through the console's form."""
    return console_login


@pytest.fixture
def pay_env(
    monkeypatch: pytest.MonkeyPatch,
    payment_standins: PaymentStandins,  # noqa: F811 (the fixture imported above)
) -> Iterator[PaymentStandins]:
    """The live server's WeChat Pay and Alipay gateways are the payment stand-ins (request
    this fixture before ``live_server``, which reads the settings from the environment)."""
    monkeypatch.setenv("LOOPMALL_WECHATPAY_BASE_URL", payment_standins.wechatpay_url)
    monkeypatch.setenv("LOOPMALL_ALIPAY_GATEWAY_URL", payment_standins.alipay_gateway_url)
    yield payment_standins
