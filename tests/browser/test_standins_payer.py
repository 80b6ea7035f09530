"""The stand-ins' payer side in Chromium: the Native scan page and the JSAPI bridge shim."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from loopmall.integrations.payment_provider import PayMethod, PayRequest
from loopmall.standins.harness import PaymentStandins
from loopmall.standins.payer_page import payer_url
from loopmall.standins.runner import serve
from tests.browser.conftest import PHONE_VIEWPORT
from tests.standins import fixtures
from tests.standins.fixtures import NotifySink

pytestmark = pytest.mark.browser
payment_standins = fixtures.payment_standins
notify_sink = fixtures.notify_sink
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    # Playwright's sync API owns this thread's loop: run the async adapter on another thread
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _request(method: PayMethod, notify_url: str, **kw: Any) -> PayRequest:
    return PayRequest(
        out_trade_no="LM" + secrets.token_hex(6),
        amount_fen=2590,
        description="拿铁 大杯",
        notify_url=notify_url,
        method=method,
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
        **kw,
    )


def test_native_code_scanned_and_paid_in_the_browser(
    browser: Any, payment_standins: PaymentStandins, notify_sink: NotifySink
) -> None:
    keys = payment_standins.new_wechatpay_merchant(name="街角咖啡")
    provider = payment_standins.wechatpay_provider(keys)
    req = _request(PayMethod.WECHAT_NATIVE, notify_sink.notify_url())
    start = _run(provider.start(req))
    url = payer_url(start, wechatpay_base_url=payment_standins.wechatpay_url)
    assert url is not None
    context = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(url)
        assert page.locator(".merchant").inner_text() == "街角咖啡"
        assert page.locator(".amount").inner_text() == "¥25.90"
        page.get_by_role("button", name="确认支付").click()
        assert page.get_by_role("status").inner_text() == "支付成功"
    finally:
        context.close()
    [got] = notify_sink.received
    event = provider.parse_callback(got.headers, got.body, now=datetime.now(UTC))
    assert (event.state, event.amount_fen, event.out_trade_no) == ("paid", 2590, req.out_trade_no)


def test_jsapi_bridge_shim_pays_with_the_signed_params(
    browser: Any, payment_standins: PaymentStandins, notify_sink: NotifySink
) -> None:
    keys = payment_standins.new_wechatpay_merchant()
    provider = payment_standins.wechatpay_provider(keys)
    req = _request(PayMethod.WECHAT_JSAPI, notify_sink.notify_url(), openid="oShopper123")
    start = _run(provider.start(req))
    params = dict(start.jsapi_params or {})
    shim = f"{payment_standins.wechatpay_url}/_standin/jsbridge.js"

    def shop_page(forged: bool) -> str:
        p = {**params, "paySign": params["paySign"][::-1]} if forged else params
        return f"""<!doctype html><html><body><p id="result">waiting</p>
<script src="{shim}"></script>
<script>document.addEventListener('WeixinJSBridgeReady', function () {{
  WeixinJSBridge.invoke('getBrandWCPayRequest', {json.dumps(p)}, function (res) {{
    document.getElementById('result').textContent = res.err_msg; }});
}});</script></body></html>"""

    async def good(request: Any) -> HTMLResponse:
        return HTMLResponse(shop_page(False))

    async def forged(request: Any) -> HTMLResponse:
        return HTMLResponse(shop_page(True))

    app = Starlette(routes=[Route("/pay", good), Route("/forged", forged)])
    with serve(app) as shop:
        context = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN")
        try:
            page = context.new_page()
            page.goto(shop.url + "/forged")
            page.get_by_role("button", name="确认支付").click()
            page.wait_for_function("document.getElementById('result').textContent !== 'waiting'")
            assert page.locator("#result").inner_text() == "get_brand_wcpay_request:fail"
            assert notify_sink.received == []
            page.goto(shop.url + "/pay")
            page.get_by_role("button", name="确认支付").click()
            page.wait_for_function("document.getElementById('result').textContent !== 'waiting'")
            assert page.locator("#result").inner_text() == "get_brand_wcpay_request:ok"
        finally:
            context.close()
    [got] = notify_sink.received
    event = provider.parse_callback(got.headers, got.body, now=datetime.now(UTC))
    assert (event.state, event.raw["resource"]["payer"]["openid"]) == ("paid", "oShopper123")
