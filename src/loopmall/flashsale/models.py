"""Tables of the flashsale domain: sales, reservations, stock buckets, tickets, used tokens.

Reservations reach millions of rows per sale (1.938 M in the Xiaomi sale), so they are a
narrow table whose primary key ``(sale_id, customer_id)`` is the lookup the gate makes.
Tickets are the accepted buys: one per (sale, customer) — the duplicate-buyer guard of
both gates — and one per request id, so a redelivered stream entry changes nothing.
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


class FlashSale(TenantMixin, IdMixin, Base):
    """A flash sale (秒杀) of one SKU at an exclusive price to reservation holders.

    Its ``stock`` was moved to a location of its own (``location_id``) when it was created,
    so the mall's other orders never take those units and its orders pay like any other.
    """

    __tablename__ = "flash_sales"
    __table_args__ = (
        CheckConstraint("stock > 0", name="stock_positive"),
        CheckConstraint("price_fen > 0", name="price_positive"),
        CheckConstraint("per_person_limit >= 1", name="limit_positive"),
        CheckConstraint("gate IN ('db', 'redis')", name="gate_known"),
        CheckConstraint("status IN ('active', 'cancelled')", name="status_known"),
        Index("ix_flash_sales_merchant_starts", "merchant_id", "starts_at"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("skus.id"))
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("stock_locations.id"))
    price_fen: Mapped[int] = mapped_column(Integer)
    list_fen: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    per_person_limit: Mapped[int] = mapped_column(Integer, default=1)
    pay_within_seconds: Mapped[int] = mapped_column(Integer)
    buckets: Mapped[int] = mapped_column(Integer)
    gate: Mapped[str] = mapped_column(String(8))  # db|redis
    status: Mapped[str] = mapped_column(String(16), default="active")
    # How many reservations it has: kept by ``service.reserve``/``reserve_many`` in the
    # insert's transaction, so the console's live figure is a read, not a COUNT(*) of
    # millions of rows every second.
    reservations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reserve_from: Mapped[datetime] = mapped_column(UtcDateTime)
    reserve_until: Mapped[datetime] = mapped_column(UtcDateTime)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FlashReservation(TenantMixin, Base):
    """A customer's reservation (预约) of a sale: the right to try to buy at sale time."""

    __tablename__ = "flash_reservations"

    sale_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("flash_sales.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class FlashBucket(TenantMixin, IdMixin, Base):
    """A share of a sale's unsold units (the database gate). Buyers take a unit from a
    random bucket with a conditional UPDATE, so no single row is the ceiling."""

    __tablename__ = "flash_buckets"
    __table_args__ = (
        UniqueConstraint("sale_id", "idx"),
        CheckConstraint("remaining >= 0", name="remaining_not_negative"),
    )

    sale_id: Mapped[int] = mapped_column(BigId, ForeignKey("flash_sales.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)


class FlashTicket(TenantMixin, IdMixin, Base):
    """An accepted buy. ``status`` moves only as ``rules.TICKETS`` allows."""

    __tablename__ = "flash_tickets"
    __table_args__ = (
        UniqueConstraint("sale_id", "customer_id"),
        UniqueConstraint("request_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("status IN ('accepted', 'ordered', 'paid', 'lapsed')", name="status_known"),
        Index("ix_flash_tickets_order", "order_id"),
        Index("ix_flash_tickets_sale_status", "sale_id", "status"),
    )

    sale_id: Mapped[int] = mapped_column(BigId, ForeignKey("flash_sales.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"))
    request_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orders.id"), nullable=True)
    accepted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # A lapsed ticket's unit goes back into the buckets in the lapse's transaction; on a
    # Redis sale it must also go back into Redis, after the commit: set once it did.
    redis_returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class FlashUsedToken(TenantMixin, Base):
    """A one-time sale token spent at the database gate (the Redis gate keeps its own)."""

    __tablename__ = "flash_used_tokens"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    sale_id: Mapped[int] = mapped_column(BigId, ForeignKey("flash_sales.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
