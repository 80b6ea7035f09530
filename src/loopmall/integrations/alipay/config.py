"""An Alipay app's credentials (classic gateway.do protocol, RSA2 public-key mode)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlipayConfig:
    """``app_private_key_pem`` signs our requests; ``alipay_public_key_pem`` ("支付宝公钥")
    verifies Alipay's answers and notifies. ``seller_id`` (the merchant's 2088… PID), when
    known, must match every notify's ``seller_id``."""

    app_id: str
    app_private_key_pem: str
    alipay_public_key_pem: str
    seller_id: str | None = None

    def __repr__(self) -> str:  # keys never reach logs
        return f"AlipayConfig(app_id={self.app_id!r}, seller_id={self.seller_id!r}, ...)"
