"""The runner serves an ASGI app on a free loopback port in a thread, and stops it."""

from __future__ import annotations

import socket

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from loopmall.standins.runner import serve


async def _hello(request: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


def test_two_apps_on_two_free_ports_then_stopped() -> None:
    app = Starlette(routes=[Route("/", _hello)])
    with serve(app) as a, serve(app) as b:
        assert a.port != b.port
        assert a.url == f"http://127.0.0.1:{a.port}"
        assert httpx.get(a.url + "/").text == "hello"
        assert httpx.get(b.url + "/").text == "hello"
    for served in (a, b):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", served.port)) != 0  # nobody listens any more


def test_keys_survive_a_round_trip_through_json() -> None:
    import json

    from loopmall.standins.keys import (
        AlipayAppKeys,
        WeChatPayMerchantKeys,
        new_alipay_app,
        new_wechatpay_merchant,
    )

    wx = new_wechatpay_merchant(slot="roundtrip")
    assert WeChatPayMerchantKeys.from_dict(json.loads(json.dumps(wx.to_dict()))) == wx
    ali = new_alipay_app(slot="roundtrip")
    assert AlipayAppKeys.from_dict(json.loads(json.dumps(ali.to_dict()))) == ali
