"""Inside WeChat, the subscribe page configures the JS-SDK with our signature and reports
the customer's answers to the subscribe prompt. WeChat's own client script (jweixin, from
res.wx.qq.com) is the outside system here: the browser is served a small stand-in of it
that records ``wx.config`` — the signature it receives is checked against the ticket."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import add_wechat_app
from loopmall.integrations.wechat import jssdk_signature
from loopmall.notifications import setup
from loopmall.notifications.models import SubscribeConsent
from loopmall.standins.wechat_oa import WechatOAStandin
from tests.browser.conftest import LiveServer
from tests.customers.consumer_fixtures import (  # noqa: F401 - fixtures
    _oa_server,
    new_appid,
    oa_standin,
)
from tests.factories import make_merchant

pytestmark = pytest.mark.browser
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x18003237) NetType/WIFI"
)
JWEIXIN_STANDIN = "window.wx = { config: function (c) { window.__wxConfig = c; } };"


def test_subscribe_prompt_in_wechat(
    live_server: LiveServer,
    new_context: Any,
    oa_standin: WechatOAStandin,  # noqa: F811 - the imported fixture
) -> None:
    live_server.settings.wechat_api_base_url = oa_standin.url  # type: ignore[attr-defined]
    live_server.settings.wechat_open_base_url = oa_standin.url  # type: ignore[attr-defined]
    appid, secret = new_appid()
    oa_standin.add_app(appid, secret)

    async def seed(state: AppState) -> None:
        tenant = await make_merchant(state, "acme", "Acme 果园")
        async with UnitOfWork(state.write_factory) as uow:
            await add_wechat_app(uow.session, tenant, appid=appid, secret=secret)
            await setup.set_template(
                uow.session, tenant, topic="order.paid", channel="wechat_subscribe",
                template_id="TPL_PAID", fields={"character_string1": "number"},
            )  # fmt: skip
            await uow.commit()

    live_server.run(seed)
    context = new_context(user_agent=WECHAT_UA)
    context.route(
        "https://res.wx.qq.com/**",
        lambda route: route.fulfill(body=JWEIXIN_STANDIN, content_type="text/javascript"),
    )
    page = context.new_page()
    page.goto("/m/acme/login?manual=1&next=/m/acme/notifications/subscribe")
    page.click("#sandbox-login")
    page.wait_for_url("**/m/acme/notifications/subscribe")
    page.wait_for_function("window.__wxConfig !== undefined")
    cfg = page.evaluate("window.__wxConfig")
    assert cfg["appId"] == appid and cfg["openTagList"] == ["wx-open-subscribe"]
    expected = jssdk_signature(
        jsapi_ticket=oa_standin.tickets[appid],
        noncestr=cfg["nonceStr"],
        timestamp=cfg["timestamp"],
        url=page.url,
    )
    assert cfg["signature"] == expected
    assert page.get_attribute("#subscribe-button", "template") == "TPL_PAID"
    details = json.dumps({"TPL_PAID": json.dumps({"status": "accept"})})
    page.evaluate(
        "d => document.getElementById('subscribe-button').dispatchEvent("
        "new CustomEvent('success', {detail: {subscribeDetails: d}}))",
        details,
    )
    page.wait_for_function("document.getElementById('subscribe-remaining').textContent === '1'")

    async def consents(state: AppState) -> list[tuple[str, int]]:
        async with UnitOfWork(state.read_factory) as uow:
            rows = await uow.session.execute(
                select(SubscribeConsent.template_id, SubscribeConsent.remaining)
            )
            return [(t, int(r)) for t, r in rows.all()]

    assert live_server.run(consents) == [("TPL_PAID", 1)]


def test_outside_wechat_the_page_says_so(live_server: LiveServer, page: Any) -> None:
    async def seed(state: AppState) -> None:
        tenant = await make_merchant(state, "acme", "Acme 果园")
        async with UnitOfWork(state.write_factory) as uow:
            await add_wechat_app(uow.session, tenant, appid="wxoutside000001", secret="s" * 32)
            await setup.set_template(
                uow.session, tenant, topic="order.paid", channel="wechat_subscribe",
                template_id="TPL_PAID", fields={"character_string1": "number"},
            )  # fmt: skip
            await uow.commit()

    live_server.run(seed)
    page.goto("/m/acme/login?next=/m/acme/notifications/subscribe")
    page.click("#sandbox-login")
    page.wait_for_url("**/m/acme/notifications/subscribe")
    assert page.locator("#subscribe-open-in-wechat").is_visible()
    assert page.locator("#subscribe-button").count() == 0
