"""Both payment stand-ins on live ports, with accounts and adapters wired to them.

For tests (``tests/standins/fixtures.py`` wraps it in pytest fixtures) and the demo::

    with PaymentStandins() as standins:
        keys = standins.new_wechatpay_merchant()
        provider = standins.wechatpay_provider(keys)
        settings.wechatpay_base_url = standins.wechatpay_url
        settings.alipay_gateway_url = standins.alipay_gateway_url
"""

from __future__ import annotations

import itertools
import secrets
from types import TracebackType
from typing import Any

from loopmall.integrations.alipay import AlipayProvider
from loopmall.integrations.wechatpay import WeChatPayProvider
from loopmall.standins.alipay import AlipayStandin
from loopmall.standins.keys import (
    AlipayAppKeys,
    WeChatPayMerchantKeys,
    new_alipay_app,
    new_wechatpay_merchant,
)
from loopmall.standins.runner import ServedApp, serve
from loopmall.standins.wechatpay import WeChatPayStandin

_KEY_SLOTS = 16  # consecutive accounts get distinct RSA keys; keys repeat after 16 (speed)


class PaymentStandins:
    def __init__(self, **wechatpay_options: Any) -> None:
        self.wechatpay = WeChatPayStandin(**wechatpay_options)
        self.alipay = AlipayStandin()
        self._servers: list[ServedApp] = []
        self._counter = itertools.count()

    def start(self) -> PaymentStandins:
        self._servers = [serve(self.wechatpay.app).start(), serve(self.alipay.app).start()]
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers = []

    def __enter__(self) -> PaymentStandins:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def wechatpay_url(self) -> str:
        """For ``settings.wechatpay_base_url``."""
        return self._servers[0].url

    @property
    def alipay_url(self) -> str:
        return self._servers[1].url

    @property
    def alipay_gateway_url(self) -> str:
        """For ``settings.alipay_gateway_url``."""
        return self._servers[1].url + "/gateway.do"

    def _slot(self) -> str:
        return f"harness-{next(self._counter) % _KEY_SLOTS}"

    def new_wechatpay_merchant(
        self, *, mchid: str | None = None, appid: str | None = None, name: str = "Loopmall 测试商户"
    ) -> WeChatPayMerchantKeys:
        """A merchant with fresh ids (and, among 16 consecutive ones, distinct keys),
        registered with the stand-in."""
        keys = new_wechatpay_merchant(
            mchid or "19" + "".join(secrets.choice("0123456789") for _ in range(8)),
            appid or "wx" + secrets.token_hex(8),
            name=name,
            slot=self._slot(),
        )
        self.wechatpay.add_merchant(keys)
        return keys

    def new_alipay_app(
        self,
        *,
        app_id: str | None = None,
        seller_id: str | None = None,
        name: str = "Loopmall 测试商户",
    ) -> AlipayAppKeys:
        keys = new_alipay_app(
            app_id or "2021" + "".join(secrets.choice("0123456789") for _ in range(12)),
            seller_id or "2088" + "".join(secrets.choice("0123456789") for _ in range(12)),
            name=name,
            slot=self._slot(),
        )
        self.alipay.add_app(keys)
        return keys

    def wechatpay_provider(self, keys: WeChatPayMerchantKeys, **options: Any) -> WeChatPayProvider:
        return WeChatPayProvider(keys.config, base_url=self.wechatpay_url, **options)

    def alipay_provider(self, keys: AlipayAppKeys, **options: Any) -> AlipayProvider:
        return AlipayProvider(keys.config, gateway_url=self.alipay_gateway_url, **options)
