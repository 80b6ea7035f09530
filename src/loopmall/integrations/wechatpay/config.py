"""A merchant's WeChat Pay API v3 credentials (public-key mode)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WeChatPayConfig:
    """What the merchant portal hands out for one 直连 merchant in public-key mode.

    ``merchant_private_key_pem`` signs our requests (apiclient_key.pem); its certificate's
    serial is ``merchant_serial_no``. ``platform_public_key_pem`` ("微信支付公钥") verifies
    WeChat's answers and callbacks, which carry ``Wechatpay-Serial: <platform_public_key_id>``.
    ``apiv3_key`` (32 ASCII characters) decrypts callback resources with AES-256-GCM.
    """

    mchid: str
    appid: str
    apiv3_key: str
    merchant_private_key_pem: str
    merchant_serial_no: str
    platform_public_key_pem: str
    platform_public_key_id: str

    def __post_init__(self) -> None:
        if len(self.apiv3_key.encode()) not in (16, 24, 32):
            # 32 in production (AES-256-GCM); 16 only appears in Tencent's own test vectors
            raise ValueError("apiv3_key must be 32 ASCII characters")

    def __repr__(self) -> str:  # keys never reach logs
        return f"WeChatPayConfig(mchid={self.mchid!r}, appid={self.appid!r}, ...)"
