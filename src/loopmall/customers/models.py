"""Consumers (people, across merchants) and customers (a person as one merchant sees them).

A :class:`Consumer` is global: one person, known across merchants by a phone number or a
WeChat unionid (:class:`ConsumerWechatId`, where an openid is namespaced by its appid and a
unionid by its Open Platform account). A :class:`Customer` is a merchant's own record of
that person, created the first time they log in to that merchant's mall; each merchant
sees only its own customers. Sessions, SMS codes and OAuth states belong to one mall.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, BigId, IdMixin, UtcDateTime
from loopmall.core.tenancy import TenantMixin


class Consumer(IdMixin, Base):
    """A person across merchants (GLOBAL)."""

    __tablename__ = "consumers"

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True, nullable=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    avatar_url: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ConsumerWechatId(IdMixin, Base):
    """A WeChat identifier of a consumer (GLOBAL).

    ``kind`` is ``openid`` (``namespace`` = the appid) or ``unionid`` (``namespace`` = the
    Open Platform account the app is bound to).
    """

    __tablename__ = "consumer_wechat_ids"
    __table_args__ = (UniqueConstraint("kind", "namespace", "value"),)

    consumer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consumers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # openid|unionid
    namespace: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WechatApp(TenantMixin, IdMixin, Base):
    """A merchant's WeChat official (service) account used for web OAuth and messages."""

    __tablename__ = "wechat_apps"

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    appid: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(100), default="")
    # The Open Platform account the app is bound to: unionids are shared within it.
    open_platform_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Customer(TenantMixin, IdMixin, Base):
    """A consumer as one merchant knows them; created at the first login to its mall."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("merchant_id", "consumer_id"),
        Index("ix_customers_merchant_openid", "merchant_id", "openid"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    consumer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consumers.id", ondelete="RESTRICT"), index=True
    )
    display_name: Mapped[str] = mapped_column(String(64), default="")
    avatar_url: Mapped[str] = mapped_column(String(500), default="")
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # The openid under the merchant's primary service account (JSAPI payer, messages).
    appid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    openid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    unionid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    followed: Mapped[bool] = mapped_column(Boolean, default=False)
    followed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    follow_invited_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    first_paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ConsumerSession(TenantMixin, IdMixin, Base):
    """A shopper's page session (cookie) or API bearer token in one mall; hash only."""

    __tablename__ = "consumer_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # cookie|api
    consumer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consumers.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(16))  # sandbox|sms|wechat
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class SmsCode(TenantMixin, IdMixin, Base):
    """A one-time login code sent to a phone for one mall; only its hash is kept."""

    __tablename__ = "consumer_sms_codes"
    __table_args__ = (Index("ix_consumer_sms_codes_phone", "merchant_id", "phone", "created_at"),)

    phone: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class OAuthState(TenantMixin, IdMixin, Base):
    """An OAuth ``state`` handed to WeChat, bound to the browser that started the login."""

    __tablename__ = "consumer_oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    appid: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(20))
    next_url: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class CustomerAddress(TenantMixin, IdMixin, Base):
    """A delivery address in the customer's address book (one of them the default, which
    the checkout starts from)."""

    __tablename__ = "customer_addresses"
    __table_args__ = (Index("ix_customer_addresses_customer", "merchant_id", "customer_id"),)

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(30))
    address: Mapped[str] = mapped_column(String(255))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
