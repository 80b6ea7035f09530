"""The mall's login page in a phone browser: the demo's one-tap sandbox login, phone + SMS
code through the SMS stand-in, and WeChat web OAuth through the stand-in's consent page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import add_wechat_app
from loopmall.standins.sms import SmsStandin
from loopmall.standins.wechat_oa import WechatOAStandin
from tests.browser.conftest import LiveServer
from tests.customers.consumer_fixtures import (  # noqa: F401 - fixtures
    _oa_server,
    _sms_server,
    new_appid,
    oa_standin,
    sms_standin,
)
from tests.factories import make_merchant

pytestmark = pytest.mark.browser
PHONE = "13655556666"


def _mall(live_server: LiveServer, slug: str = "acme", name: str = "Acme 果园") -> None:
    async def seed(state: AppState) -> None:
        await make_merchant(state, slug, name)

    live_server.run(seed)


def test_sandbox_one_tap_login(live_server: LiveServer, page: Any) -> None:
    _mall(live_server)
    page.goto("/m/acme/me")
    page.wait_for_url(re.compile(r"/m/acme/login\?next="))
    assert page.locator("h1#login-title").inner_text() == "登录 Acme 果园"
    page.fill("#sandbox-name", "体验小王")
    page.click("#sandbox-login")
    page.wait_for_url("**/m/acme/me")
    assert page.locator("#me-name").inner_text() == "体验小王"
    page.click("#logout")
    page.wait_for_url("**/m/acme/")
    page.goto("/m/acme/me")
    page.wait_for_url(re.compile(r"/m/acme/login"))


def test_phone_and_sms_code_login(
    live_server: LiveServer,
    page: Any,
    sms_standin: SmsStandin,  # noqa: F811 - the imported fixture
) -> None:
    live_server.settings.sms_base_url = sms_standin.url  # type: ignore[attr-defined]
    _mall(live_server)
    page.goto("/m/acme/login?next=/m/acme/me")
    page.fill("#phone", PHONE)
    page.click("#send-code")
    page.wait_for_selector("#login-notice")
    assert PHONE in page.locator("#login-notice").inner_text()
    code = sms_standin.last_code(PHONE)
    assert code is not None
    assert page.input_value("#phone") == PHONE
    page.fill("#code", "000000" if code != "000000" else "111111")
    page.click("#sms-login")
    page.wait_for_selector("#login-error")
    assert "验证码错误" in page.locator("#login-error").inner_text()
    page.fill("#code", code)
    page.click("#sms-login")
    page.wait_for_url("**/m/acme/me")
    assert "136****6666" in page.content()


def test_wechat_oauth_login(
    live_server: LiveServer,
    page: Any,
    oa_standin: WechatOAStandin,  # noqa: F811 - the imported fixture
) -> None:
    live_server.settings.wechat_api_base_url = oa_standin.url  # type: ignore[attr-defined]
    live_server.settings.wechat_open_base_url = oa_standin.url  # type: ignore[attr-defined]
    appid, secret = new_appid()
    oa_standin.add_app(appid, secret, name="Acme 服务号")

    async def seed(state: AppState) -> None:
        tenant = await make_merchant(state, "acme", "Acme 果园")
        async with UnitOfWork(state.write_factory) as uow:
            await add_wechat_app(uow.session, tenant, appid=appid, secret=secret)
            await uow.commit()

    live_server.run(seed)
    page.goto("/m/acme/login?next=/m/acme/me")
    page.click("#wechat-login")
    page.wait_for_url(re.compile(re.escape(oa_standin.url) + r"/connect/oauth2/authorize"))  # type: ignore[attr-defined]
    assert "Acme 服务号" in page.content()
    page.fill("input[name=user]", "微信小张")
    page.click("button[value=allow]")
    page.wait_for_url("**/m/acme/me")
    assert page.locator("#me-name").inner_text() == "微信小张"
