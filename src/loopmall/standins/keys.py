"""Credentials for tests and the demo: RSA keys, WeChat Pay merchants, Alipay apps.

What the merchant portals would hand out, made locally. Each also carries the other side's
secrets (the platform's / Alipay's private key) so a stand-in can be set up to match.
RSA-2048 generation costs ~50 ms, so keys are pooled per ``slot`` within a process.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from loopmall.integrations.alipay.config import AlipayConfig
from loopmall.integrations.wechatpay.config import WeChatPayConfig

_ALNUM = string.ascii_letters + string.digits


def generate_rsa_pem(bits: int = 2048) -> tuple[str, str]:
    """A fresh key pair: (PKCS#8 private PEM, SubjectPublicKeyInfo public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@lru_cache(maxsize=64)
def pooled_rsa_pem(slot: str) -> tuple[str, str]:
    """The same key pair for the same slot name, for the life of the process."""
    return generate_rsa_pem()


def _key(slot: str | None) -> tuple[str, str]:
    return pooled_rsa_pem(slot) if slot else generate_rsa_pem()


@dataclass(frozen=True)
class WeChatPayMerchantKeys:
    """A merchant's config plus what WeChat Pay's side holds for it."""

    config: WeChatPayConfig
    merchant_public_key_pem: str  # WeChat verifies our requests with it
    platform_private_key_pem: str  # WeChat signs answers and callbacks with it
    name: str = "Loopmall 测试商户"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, to keep a demo's accounts across restarts (secrets inside)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WeChatPayMerchantKeys:
        return cls(**{**data, "config": WeChatPayConfig(**data["config"])})


def new_wechatpay_merchant(
    mchid: str = "1900000109",
    appid: str = "wx8888888888888888",
    *,
    name: str = "Loopmall 测试商户",
    slot: str | None = None,
) -> WeChatPayMerchantKeys:
    """Fresh credentials; with ``slot`` the RSA keys come from the process pool (fast)."""
    merchant_private, merchant_public = _key(f"wx-merchant-{slot}" if slot else None)
    platform_private, platform_public = _key(f"wx-platform-{slot}" if slot else None)
    config = WeChatPayConfig(
        mchid=mchid,
        appid=appid,
        apiv3_key="".join(secrets.choice(_ALNUM) for _ in range(32)),
        merchant_private_key_pem=merchant_private,
        merchant_serial_no=secrets.token_hex(20).upper(),
        platform_public_key_pem=platform_public,
        platform_public_key_id="PUB_KEY_ID_"
        + "".join(secrets.choice(string.digits) for _ in range(32)),
    )
    return WeChatPayMerchantKeys(config, merchant_public, platform_private, name)


@dataclass(frozen=True)
class AlipayAppKeys:
    """An Alipay app's config plus what Alipay's side holds for it."""

    config: AlipayConfig
    app_public_key_pem: str  # Alipay verifies our requests with it
    alipay_private_key_pem: str  # Alipay signs answers and notifies with it
    name: str = "Loopmall 测试商户"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlipayAppKeys:
        return cls(**{**data, "config": AlipayConfig(**data["config"])})


def new_alipay_app(
    app_id: str = "2021000000000001",
    seller_id: str = "2088000000000001",
    *,
    name: str = "Loopmall 测试商户",
    slot: str | None = None,
) -> AlipayAppKeys:
    app_private, app_public = _key(f"ali-app-{slot}" if slot else None)
    alipay_private, alipay_public = _key(f"ali-alipay-{slot}" if slot else None)
    config = AlipayConfig(
        app_id=app_id,
        app_private_key_pem=app_private,
        alipay_public_key_pem=alipay_public,
        seller_id=seller_id,
    )
    return AlipayAppKeys(config, app_public, alipay_private, name)
