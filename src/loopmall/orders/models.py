"""Order tables: cart lines, orders, their lines, their timeline of steps and refunds.

Money is int fen. The database refuses an order refunded beyond what was paid and a
status it does not know, so a bug in a service cannot write an impossible row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, BigId, IdMixin, UtcDateTime
from loopmall.core.tenancy import TenantMixin


class CartLine(TenantMixin, IdMixin, Base):
    """A SKU in a customer's cart (the cart is per customer, so per consumer per merchant)."""

    __tablename__ = "cart_lines"
    __table_args__ = (
        UniqueConstraint("customer_id", "sku_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("skus.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Order(TenantMixin, IdMixin, Base):
    """An order: a mall checkout or a face-to-face payment (no lines).

    ``status`` moves only as ``rules.ORDERS`` allows. ``expires_at`` is when an unpaid
    online order is cancelled by the sweep (None: it never lapses).
    """

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("merchant_id", "number"),
        UniqueConstraint("merchant_id", "pickup_code"),
        CheckConstraint(
            "status IN ('created', 'paid', 'shipped', 'ready_for_pickup', 'completed', "
            "'cancelled', 'refund_requested', 'refunded')",
            name="status_known",
        ),
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
        CheckConstraint("paid_fen >= 0", name="paid_not_negative"),
        CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= paid_fen", name="refund_within_paid"
        ),
        Index("ix_orders_due", "status", "expires_at"),
        Index("ix_orders_customer", "merchant_id", "customer_id", "id"),
        Index("ix_orders_store", "merchant_id", "store_id", "id"),
        # A kind in a status, newest first (the unpaid store sales): migration 0021.
        Index("ix_orders_kind_status", "merchant_id", "kind", "status", "id"),
        # The console's search by phone and its date filter (migration 0024).
        Index("ix_orders_phone", "merchant_id", "recipient_phone", "id"),
        Index("ix_orders_created", "merchant_id", "created_at", "id"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    number: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(16))  # mall|face_to_face
    status: Mapped[str] = mapped_column(String(24))
    fulfilment: Mapped[str] = mapped_column(String(16))  # delivery|pickup|none
    payment_method: Mapped[str] = mapped_column(String(16))  # online|cod
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id"), nullable=True
    )
    store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stores.id"), nullable=True)
    guide_staff_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff.id"), nullable=True)
    location_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("stock_locations.id"), nullable=True
    )
    items_fen: Mapped[int] = mapped_column(Integer, default=0)
    shipping_fen: Mapped[int] = mapped_column(Integer, default=0)
    total_fen: Mapped[int] = mapped_column(Integer)
    paid_fen: Mapped[int] = mapped_column(Integer, default=0)
    refunded_fen: Mapped[int] = mapped_column(Integer, default=0)
    payment_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    recipient_name: Mapped[str] = mapped_column(String(50), default="")
    recipient_phone: Mapped[str] = mapped_column(String(30), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(String(128), default="")
    pickup_code: Mapped[str | None] = mapped_column(String(12), nullable=True)
    carrier: Mapped[str] = mapped_column(String(40), default="")
    tracking_no: Mapped[str] = mapped_column(String(60), default="")
    refund_from: Mapped[str | None] = mapped_column(String(24), nullable=True)
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class OrderLine(TenantMixin, IdMixin, Base):
    """One SKU of an order at the price quoted at checkout, and the hold that kept it."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("discount_fen >= 0", name="discount_not_negative"),
        CheckConstraint(
            "discount_approval IN ('none', 'within_cap', 'pending', 'approved')",
            name="discount_approval_known",
        ),
    )

    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("skus.id"))
    hold_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("stock_holds.id", ondelete="SET NULL"), nullable=True
    )
    sku_public_id: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(120))
    options_text: Mapped[str] = mapped_column(String(200), default="")
    unit_fen: Mapped[int] = mapped_column(Integer)
    list_fen: Mapped[int] = mapped_column(Integer)
    price_rule: Mapped[str] = mapped_column(String(40), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    line_fen: Mapped[int] = mapped_column(Integer)
    # A store sale's discount off the price pipeline's price (the whole line): the price
    # before it is ``line_fen + discount_fen``. Who gave it, and who approved it when it
    # was beyond the merchant's cap (``pending`` until then: the till takes no money).
    discount_fen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    discount_approval: Mapped[str] = mapped_column(
        String(16), default="none", server_default="none"
    )
    discount_by_staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id"), nullable=True
    )
    discount_approved_by_staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id"), nullable=True
    )


class OrderStep(TenantMixin, IdMixin, Base):
    """One step of an order's timeline: a move of status, or a partial refund."""

    __tablename__ = "order_steps"

    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    to_status: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(60))
    note: Mapped[str] = mapped_column(String(200), default="")
    amount_fen: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class OrderRefund(TenantMixin, IdMixin, Base):
    """A refund recorded against an order, once per payments' refund id."""

    __tablename__ = "order_refunds"
    __table_args__ = (
        UniqueConstraint("order_id", "refund_id"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    refund_id: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
