"""Alipay adapter (``python-alipay-sdk``, classic gateway.do protocol)."""

from loopmall.integrations.alipay.config import AlipayConfig
from loopmall.integrations.alipay.provider import AlipayProvider

__all__ = ["AlipayConfig", "AlipayProvider"]
