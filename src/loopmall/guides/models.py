"""Tables of the guides domain: the merchant's guide settings, conversations and their
messages, customer tags, holds a guide placed for a customer, and fittings.

Ids of other new domains' tables are not referenced; customers, staff, stores, SKUs,
inventory holds and orders are (they exist since revision 0010).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
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


class GuideSettings(TenantMixin, IdMixin, Base):
    """One row per merchant: how long a guide may hold an item, how long a fitting lasts."""

    __tablename__ = "guide_settings"
    __table_args__ = (
        UniqueConstraint("merchant_id"),
        CheckConstraint("max_hold_seconds > 0", name="max_hold_positive"),
        CheckConstraint("slot_minutes > 0", name="slot_positive"),
    )

    max_hold_seconds: Mapped[int] = mapped_column(Integer)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Conversation(TenantMixin, IdMixin, Base):
    """A customer talking with one guide (moved to another guide on hand-over)."""

    __tablename__ = "guide_conversations"
    __table_args__ = (
        Index("ix_guide_conversations_guide", "merchant_id", "guide_staff_id", "last_message_at"),
        Index("ix_guide_conversations_customer", "merchant_id", "customer_id"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    guide_staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id"))
    store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stores.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|closed
    guide_unread: Mapped[int] = mapped_column(Integer, default=0)
    customer_unread: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ChatMessage(TenantMixin, IdMixin, Base):
    """One message: text, a product card, the customer's pick of a card, or a note of a
    hold / fitting / hand-over (``kind``), with its data in ``card``."""

    __tablename__ = "guide_messages"
    __table_args__ = (
        Index("ix_guide_messages_conversation", "conversation_id", "id"),
        CheckConstraint("sender IN ('customer', 'guide', 'system')", name="sender_known"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("guide_conversations.id", ondelete="CASCADE")
    )
    sender: Mapped[str] = mapped_column(String(10))
    staff_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # text|card|pick|hold|fitting|system
    body: Mapped[str] = mapped_column(Text, default="")
    card: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class CustomerTag(TenantMixin, IdMixin, Base):
    """A guide's word about a customer ("likes black", "size M")."""

    __tablename__ = "guide_customer_tags"
    __table_args__ = (UniqueConstraint("customer_id", "tag"),)

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(30))
    staff_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class GuideHold(TenantMixin, IdMixin, Base):
    """An item a guide keeps in the store for a customer: the inventory hold behind it and
    what became of it (active → sold | released | no_show; lapsed when its time ran out)."""

    __tablename__ = "guide_holds"
    __table_args__ = (
        Index("ix_guide_holds_guide", "merchant_id", "guide_staff_id", "status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    hold_id: Mapped[int] = mapped_column(BigId, ForeignKey("stock_holds.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    guide_staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id"))
    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("stores.id"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("skus.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_fen: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orders.id"), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Fitting(TenantMixin, IdMixin, Base):
    """A fitting booked at a store with a guide. ``slot_at`` repeats ``starts_at`` while the
    booking holds its slot (cleared when cancelled): the unique index is the slot guard."""

    __tablename__ = "guide_fittings"
    __table_args__ = (
        UniqueConstraint("merchant_id", "guide_staff_id", "slot_at"),
        Index("ix_guide_fittings_due", "status", "reminded_at", "starts_at"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    guide_staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id"))
    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("stores.id"))
    guide_hold_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("guide_holds.id"), nullable=True
    )
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    slot_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="booked")
    note: Mapped[str] = mapped_column(String(200), default="")
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orders.id"), nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
