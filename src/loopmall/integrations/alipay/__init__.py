"""Alipay adapter (``python-alipay-sdk``, classic gateway.do protocol)."""

from loopmall.integrations.alipay.config import AlipayConfig
from loopmall.integrations.alipay.provider import AlipayProvider, alipay_provider

__all__ = ["AlipayConfig", "AlipayProvider", "alipay_provider"]
