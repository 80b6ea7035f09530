"""A merchant's payment accounts (one per provider) and the adapter each one speaks through.

Configuring the demo against the stand-ins::

    keys = standins.keys.new_wechatpay_merchant(mchid="1900000109", appid="wx…")
    standin.add_merchant(keys)                     # the WeChat Pay stand-in knows the merchant
    await configure_account(session, tenant, "wechatpay", asdict(keys.config))
    # settings.wechatpay_base_url = the stand-in's URL

and likewise ``"alipay"`` with ``asdict(new_alipay_app(...).config)`` and
``settings.alipay_gateway_url``; ``"sandbox"`` with ``sandbox.new_credentials()``.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.errors import ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.state import settings_of
from loopmall.core.tenancy import Tenant, scoped
from loopmall.integrations.payment_provider import PaymentProvider, PayMethod
from loopmall.payments.models import PaymentAccount
from loopmall.payments.rules import MethodUnavailable, NoPaymentAccount
from loopmall.payments.sandbox import SandboxProvider

PROVIDERS = ("wechatpay", "alipay", "sandbox")

# Which provider takes which way of paying.
PROVIDER_OF: dict[PayMethod, str] = {
    PayMethod.WECHAT_JSAPI: "wechatpay",
    PayMethod.WECHAT_NATIVE: "wechatpay",
    PayMethod.WECHAT_H5: "wechatpay",
    PayMethod.ALIPAY_QR: "alipay",
    PayMethod.SANDBOX: "sandbox",
}


def _config_fields(provider: str) -> tuple[set[str], set[str]]:
    """(required, optional) credential fields for a provider."""
    if provider == "wechatpay":
        from loopmall.integrations.wechatpay.config import WeChatPayConfig

        return {f.name for f in fields(WeChatPayConfig)}, set()
    if provider == "alipay":
        from loopmall.integrations.alipay.config import AlipayConfig

        return {"app_id", "app_private_key_pem", "alipay_public_key_pem"}, {
            f.name for f in fields(AlipayConfig)
        }
    return {"secret", "key_id"}, set()


def check_credentials(provider: str, credentials: dict[str, Any]) -> dict[str, str]:
    """The credentials as strings, or 422 naming the first missing or unknown field."""
    if provider not in PROVIDERS:
        raise ValidationFailed(f"Unknown provider {provider!r}", field="provider")
    required, optional = _config_fields(provider)
    allowed = required | optional
    clean: dict[str, str] = {}
    for key, value in credentials.items():
        if key not in allowed:
            raise ValidationFailed(f"Unknown credential field {key!r}", field=key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValidationFailed(f"{key} must be text", field=key)
        clean[key] = value
    for key in sorted(required):
        if not clean.get(key):
            raise ValidationFailed(f"{key} is required", field=key)
    try:
        build_provider(provider, clean, None)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(f"The credentials are not usable: {exc}") from None
    return clean


async def configure_account(
    session: AsyncSession, tenant: Tenant, provider: str, credentials: dict[str, Any]
) -> PaymentAccount:
    """Create or replace the merchant's account at ``provider`` (active). Raises 422 for
    missing, unknown or unusable credentials (a key that does not parse)."""
    clean = check_credentials(provider, credentials)
    now = clock.now()
    account = await session.scalar(
        scoped(PaymentAccount, tenant, PaymentAccount.provider == provider)
    )
    app_id = clean.get("appid") or clean.get("app_id") or ""
    merchant_no = clean.get("mchid") or clean.get("seller_id") or clean.get("key_id") or ""
    if account is None:
        account = PaymentAccount(
            merchant_id=tenant.id,
            public_id=new_public_id("pac"),
            provider=provider,
            created_at=now,
        )
        session.add(account)
    account.credentials = clean
    account.app_id = app_id
    account.merchant_no = merchant_no
    account.active = True
    account.updated_at = now
    await session.flush()
    _cache.pop(account.public_id, None)
    return account


async def set_account_active(
    session: AsyncSession, tenant: Tenant, provider: str, active: bool
) -> PaymentAccount:
    account = await session.scalar(
        scoped(PaymentAccount, tenant, PaymentAccount.provider == provider)
    )
    if account is None:
        raise NoPaymentAccount()
    account.active = active
    account.updated_at = clock.now()
    await session.flush()
    return account


async def list_accounts(session: AsyncSession, tenant: Tenant) -> list[PaymentAccount]:
    rows = await session.scalars(scoped(PaymentAccount, tenant).order_by(PaymentAccount.id))
    return list(rows.all())


def account_clause(tenant: Tenant, method: PayMethod) -> tuple[ColumnElement[bool], ...]:
    """What picks the merchant's active account that takes ``method``."""
    return (
        PaymentAccount.merchant_id == tenant.id,
        PaymentAccount.provider == PROVIDER_OF[method],
        PaymentAccount.active.is_(True),
    )


async def account_for_method(
    session: AsyncSession, tenant: Tenant, method: PayMethod
) -> PaymentAccount:
    """The active account that takes ``method``; 404 ``payment_account_missing`` if none."""
    account = await session.scalar(select(PaymentAccount).where(*account_clause(tenant, method)))
    if account is None:
        raise NoPaymentAccount(
            f"No active {PROVIDER_OF[method]} account",
            method=method.value,
            provider=PROVIDER_OF[method],
        )
    return account


async def available_methods(session: AsyncSession, tenant: Tenant) -> list[PayMethod]:
    """The ways of paying the merchant's active accounts offer, in the order shown (not the
    sandbox while ``settings.sandbox_payments`` is off)."""
    providers = set(
        (
            await session.scalars(
                select(PaymentAccount.provider).where(
                    PaymentAccount.merchant_id == tenant.id, PaymentAccount.active.is_(True)
                )
            )
        ).all()
    )
    if not settings_of(session).sandbox_payments:
        providers.discard("sandbox")
    return [m for m in PayMethod if PROVIDER_OF[m] in providers]


def parse_method(value: str) -> PayMethod:
    try:
        return PayMethod(value)
    except ValueError:
        raise MethodUnavailable(f"Unknown way of paying {value!r}", field="method") from None


async def account_by_public_id(
    session: AsyncSession, provider: str, public_id: str
) -> PaymentAccount | None:
    """The account a callback URL names (no tenant yet: the URL is how we learn it)."""
    account: PaymentAccount | None = await session.scalar(
        select(PaymentAccount).where(
            PaymentAccount.public_id == public_id, PaymentAccount.provider == provider
        )
    )
    return account


def build_provider(
    provider: str, credentials: dict[str, str], settings: Settings | None
) -> PaymentProvider:
    window = settings.callback_window_seconds if settings else 300
    timeout = settings.http_timeout_seconds if settings else 10.0
    if provider == "wechatpay":
        from loopmall.integrations.wechatpay.config import WeChatPayConfig
        from loopmall.integrations.wechatpay.provider import WeChatPayProvider

        return WeChatPayProvider(
            WeChatPayConfig(**credentials),
            base_url=settings.wechatpay_base_url if settings else "https://api.mch.weixin.qq.com",
            timeout_seconds=timeout,
            callback_window_seconds=window,
        )
    if provider == "alipay":
        from loopmall.integrations.alipay.config import AlipayConfig
        from loopmall.integrations.alipay.provider import AlipayProvider

        if settings is None:
            return AlipayProvider(AlipayConfig(**credentials), timeout_seconds=timeout)
        return AlipayProvider(
            AlipayConfig(**credentials),
            gateway_url=settings.alipay_gateway_url,
            timeout_seconds=timeout,
        )
    return SandboxProvider(
        credentials["secret"], credentials["key_id"], callback_window_seconds=window
    )


# Adapters are built once per account version (parsing RSA keys is not free).
_cache: dict[str, tuple[tuple[Any, ...], PaymentProvider]] = {}


def provider_for(account: PaymentAccount, settings: Settings) -> PaymentProvider:
    """The adapter for ``account`` pointed at the configured base URLs."""
    version = (
        account.updated_at,
        tuple(sorted(account.credentials.items())),
        settings.wechatpay_base_url,
        settings.alipay_gateway_url,
        settings.callback_window_seconds,
        settings.http_timeout_seconds,
    )
    cached = _cache.get(account.public_id)
    if cached is not None and cached[0] == version:
        return cached[1]
    built = build_provider(account.provider, account.credentials, settings)
    _cache[account.public_id] = (version, built)
    return built
