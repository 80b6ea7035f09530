"""Payment tables: provider accounts, payment attempts, refunds, every callback, daily
reconciliation reports and the static payment codes (收款码) of stores and guides.

Money is int fen. ``payments.state`` and ``payment_refunds.state`` move only as
``rules.PAYMENT_MOVES`` / ``rules.REFUND_MOVES`` allow; the database refuses states it does
not know and refunds beyond the amount paid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, BigId, IdMixin, UtcDateTime
from loopmall.core.tenancy import TenantMixin


class PaymentAccount(TenantMixin, IdMixin, Base):
    """A merchant's account at one provider, with the credentials the adapter needs.

    ``credentials`` holds the fields of ``WeChatPayConfig`` / ``AlipayConfig`` or, for the
    sandbox, ``{"secret": …}``. Its public id is part of the callback URL, so a callback
    is verified with the keys of the account it names.
    """

    __tablename__ = "payment_accounts"
    __table_args__ = (
        UniqueConstraint("merchant_id", "provider"),
        CheckConstraint("provider IN ('wechatpay', 'alipay', 'sandbox')", name="provider_known"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    provider: Mapped[str] = mapped_column(String(16))
    app_id: Mapped[str] = mapped_column(String(64), default="")
    merchant_no: Mapped[str] = mapped_column(String(64), default="")
    credentials: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Payment(TenantMixin, IdMixin, Base):
    """One attempt to pay an order through one provider (``out_trade_no`` is ours, unique)."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(
            "state IN ('created', 'pending', 'failed', 'closed', 'succeeded', "
            "'partially_refunded', 'refunded')",
            name="state_known",
        ),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refund_within_amount"
        ),
        Index("ix_payments_order", "merchant_id", "order_id", "id"),
        Index("ix_payments_state", "state", "created_at"),
        Index("ix_payments_merchant_created", "merchant_id", "created_at"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("payment_accounts.id"))
    provider: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"))
    # Copied from the order: the console lists a store's payments (face-to-face included).
    order_kind: Mapped[str] = mapped_column(String(16))
    store_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("stores.id"), nullable=True, index=True
    )
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    refunded_fen: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(24))
    provider_trade_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payer_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # What the pay page shows: qr_content, redirect_url or jsapi_params (PayStart).
    start: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(String(255), default="")
    # A paid amount that differs from ours is kept here for the operators, never applied.
    anomaly: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    queried_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class PaymentRefund(TenantMixin, IdMixin, Base):
    """Money going back for a payment: asked by staff, or automatic (a payment for an order
    that was cancelled or already paid). Sent to the provider by the outbox."""

    __tablename__ = "payment_refunds"
    __table_args__ = (
        CheckConstraint(
            "state IN ('requested', 'processing', 'succeeded', 'failed')", name="state_known"
        ),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_payment_refunds_payment", "payment_id"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    payment_id: Mapped[int] = mapped_column(BigId, ForeignKey("payments.id"))
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"), index=True)
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(80), default="")
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    actor: Mapped[str] = mapped_column(String(60), default="")
    state: Mapped[str] = mapped_column(String(16))
    provider_refund_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class CallbackRecord(TenantMixin, IdMixin, Base):
    """Every callback that reached an account's URL (and every query result applied like
    one): verified or not, what it said, what we did, what we answered."""

    __tablename__ = "payment_callbacks"
    __table_args__ = (Index("ix_payment_callbacks_received", "merchant_id", "received_at"),)

    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("payment_accounts.id"))
    provider: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # callback|query
    verified: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(16))  # payment|refund|unknown
    provider_event_id: Mapped[str] = mapped_column(String(128), default="")
    out_trade_no: Mapped[str] = mapped_column(String(64), default="", index=True)
    out_refund_no: Mapped[str] = mapped_column(String(64), default="")
    amount_fen: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("payments.id"), nullable=True, index=True
    )
    outcome: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(255), default="")
    http_status: Mapped[int] = mapped_column(Integer, default=0)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    body: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReconciliationReport(TenantMixin, IdMixin, Base):
    """One day's comparison of the providers' records with our payments and orders."""

    __tablename__ = "reconciliation_reports"
    __table_args__ = (UniqueConstraint("merchant_id", "day"),)

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD, Shanghai
    checked: Mapped[int] = mapped_column(Integer, default=0)
    differences: Mapped[int] = mapped_column(Integer, default=0)
    # [{"kind": …, "out_trade_no": …, "ours": …, "provider": …, "order": …}, …]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PaymentCode(TenantMixin, IdMixin, Base):
    """A static payment code (收款码) of a store or a guide: ``code`` is the unguessable
    part of the URL printed in the QR code."""

    __tablename__ = "payment_codes"
    __table_args__ = (
        UniqueConstraint("merchant_id", "store_id", "guide_staff_id"),
        CheckConstraint(
            "store_id IS NOT NULL OR guide_staff_id IS NOT NULL", name="store_or_guide"
        ),
        # One active code per store and per guide. The unique constraint above does not
        # hold for store codes (guide_staff_id NULL: NULLs never collide), so two first
        # views of a store could each make one; these let a write lose cleanly instead.
        Index(
            "ux_payment_codes_store",
            "merchant_id",
            "store_id",
            unique=True,
            sqlite_where=text("guide_staff_id IS NULL AND active"),
            postgresql_where=text("guide_staff_id IS NULL AND active"),
        ),
        Index(
            "ux_payment_codes_guide",
            "merchant_id",
            "guide_staff_id",
            unique=True,
            sqlite_where=text("guide_staff_id IS NOT NULL AND active"),
            postgresql_where=text("guide_staff_id IS NOT NULL AND active"),
        ),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    store_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("stores.id", ondelete="CASCADE"), nullable=True
    )
    guide_staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="CASCADE"), nullable=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
