"""Pytest fixtures for the payment stand-ins. Use them from any test package's conftest.py:

    from tests.standins.fixtures import (  # noqa: F401
        alipay_app, alipay_provider, notify_sink, payment_standins, wechatpay_merchant,
        wechatpay_provider,
    )

``payment_standins`` (session): both stand-ins served on 127.0.0.1 (one pair per xdist
worker). ``wechatpay_merchant`` / ``alipay_app``: a fresh account registered with them.
``wechatpay_provider`` / ``alipay_provider``: the real adapters pointed at the stand-ins.
``notify_sink``: a served app that records every callback POSTed to it and answers as told.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loopmall.integrations.alipay import AlipayProvider
from loopmall.integrations.wechatpay import WeChatPayProvider
from loopmall.standins.harness import PaymentStandins
from loopmall.standins.keys import AlipayAppKeys, WeChatPayMerchantKeys
from loopmall.standins.runner import serve


@pytest.fixture(scope="session")
def payment_standins() -> Iterator[PaymentStandins]:
    with PaymentStandins() as standins:
        yield standins


@pytest.fixture
def wechatpay_merchant(payment_standins: PaymentStandins) -> WeChatPayMerchantKeys:
    return payment_standins.new_wechatpay_merchant()


@pytest.fixture
def wechatpay_provider(
    payment_standins: PaymentStandins, wechatpay_merchant: WeChatPayMerchantKeys
) -> WeChatPayProvider:
    return payment_standins.wechatpay_provider(wechatpay_merchant)


@pytest.fixture
def alipay_app(payment_standins: PaymentStandins) -> AlipayAppKeys:
    return payment_standins.new_alipay_app()


@pytest.fixture
def alipay_provider(payment_standins: PaymentStandins, alipay_app: AlipayAppKeys) -> AlipayProvider:
    return payment_standins.alipay_provider(alipay_app)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class NotifySink:
    """Records callbacks; answers with ``status``/``body`` (set them to refuse)."""

    url: str = ""
    status: int = 204
    body: bytes = b""
    received: list[Received] = field(default_factory=list)

    def notify_url(self, name: str = "notify") -> str:
        return f"{self.url}/{name}"


@pytest.fixture
def notify_sink() -> Iterator[NotifySink]:
    sink = NotifySink()

    async def record(request: Request) -> Response:
        sink.received.append(
            Received(request.url.path, dict(request.headers), await request.body())
        )
        return Response(sink.body, status_code=sink.status)

    app = Starlette(routes=[Route("/{name:path}", record, methods=["POST"])])
    with serve(app) as served:
        sink.url = served.url
        yield sink
