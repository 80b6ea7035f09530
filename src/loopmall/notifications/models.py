"""Notification tables: which WeChat templates a merchant uses per order step, customers'
consents to subscribe templates, every outgoing message, and the in-app inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, BigId, IdMixin, UtcDateTime
from loopmall.core.tenancy import TenantMixin


class MessageTemplate(TenantMixin, IdMixin, Base):
    """A WeChat template the merchant set up for one order step.

    ``channel`` is ``wechat_subscribe`` (订阅通知: needs the customer's consent per template)
    or ``wechat_template`` (模板消息: needs the customer to follow the account). ``fields``
    maps WeChat's keyword names to what fills them (``number``, ``amount``, ``status``,
    ``time``, ``pickup_code``, ``mall``).
    """

    __tablename__ = "notification_templates"
    __table_args__ = (UniqueConstraint("merchant_id", "topic", "channel"),)

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    topic: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    template_id: Mapped[str] = mapped_column(String(128))
    fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SubscribeConsent(TenantMixin, IdMixin, Base):
    """A customer's consent to a subscribe template: each one-time consent allows one
    message (``remaining``); a long-term consent allows any number."""

    __tablename__ = "subscribe_consents"
    __table_args__ = (UniqueConstraint("customer_id", "template_id"),)

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    template_id: Mapped[str] = mapped_column(String(128))
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    long_term: Mapped[bool] = mapped_column(Boolean, default=False)
    used: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Notification(TenantMixin, IdMixin, Base):
    """One message to a customer through an outside channel, sent by the outbox."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "customer_id", "channel"),
        Index("ix_notifications_customer", "merchant_id", "customer_id", "created_at"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigInteger)
    topic: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))  # wechat_subscribe|wechat_template|sms
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|sent|failed
    target: Mapped[str] = mapped_column(String(128))  # openid or phone
    template_id: Mapped[str] = mapped_column(String(128), default="")
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    provider_msg_id: Mapped[str] = mapped_column(String(64), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class InboxMessage(TenantMixin, IdMixin, Base):
    """A message in the customer's in-app inbox (always written, whatever else is sent)."""

    __tablename__ = "inbox_messages"
    __table_args__ = (
        UniqueConstraint("customer_id", "event_id"),
        Index("ix_inbox_messages_customer", "merchant_id", "customer_id", "read_at"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    topic: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    link: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
