"""Inventory tables: locations, stock levels, holds and the movement ledger.

A :class:`StockLevel` is one SKU at one :class:`Location`. ``on_hand`` counts the units
physically there; ``held`` counts units promised by holds that are still recorded as
active. The database itself refuses a negative count or more held than on hand (CHECK
constraints), so a bug in a service cannot write an impossible row. Every change to
``on_hand`` or ``held`` writes a :class:`StockMovement`; the ledger's sums equal the level.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, BigId, IdMixin, UtcDateTime
from loopmall.core.tenancy import TenantMixin


class Location(TenantMixin, IdMixin, Base):
    """Where stock sits: a warehouse (the default one is the "online stock") or a store.

    A store has at most one location (unique ``store_id`` per merchant; NULLs do not
    collide, so warehouses are unconstrained) and a merchant has at most one default
    warehouse (partial unique index). Both are created on demand, idempotently.
    """

    __tablename__ = "stock_locations"
    __table_args__ = (
        # Warehouse codes are the merchant's; a store location's code is its store's id.
        UniqueConstraint("merchant_id", "kind", "code"),
        UniqueConstraint("merchant_id", "store_id"),
        Index(
            "uq_stock_locations_default",
            "merchant_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
        CheckConstraint("kind IN ('warehouse', 'store')", name="kind_known"),
        CheckConstraint("(kind = 'store') = (store_id IS NOT NULL)", name="store_iff_store_kind"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # warehouse|store
    store_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("stores.id", ondelete="CASCADE"), nullable=True
    )
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StockLevel(TenantMixin, IdMixin, Base):
    """One SKU at one location. ``available = on_hand - (held by unexpired holds)``."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        UniqueConstraint("sku_id", "location_id"),
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint("held <= on_hand", name="held_within_on_hand"),
        Index("ix_stock_levels_location", "location_id", "sku_id"),
    )

    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("skus.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("stock_locations.id", ondelete="CASCADE")
    )
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Hold(TenantMixin, IdMixin, Base):
    """Units of one stock level promised to someone until ``expires_at``.

    ``status`` moves only as ``rules.HOLDS`` allows. A hold still recorded
    ``active`` whose ``expires_at`` has passed is lapsed in effect: reads do not count it
    and the next write to its stock level (or the sweep) records the lapse.
    """

    __tablename__ = "stock_holds"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "status IN ('active', 'consumed', 'released', 'lapsed')", name="status_known"
        ),
        # The write path and the sweep look up a level's expired active holds.
        Index("ix_stock_holds_level_due", "stock_level_id", "status", "expires_at"),
        Index("ix_stock_holds_due", "status", "expires_at"),
        Index("ix_stock_holds_reference", "merchant_id", "reference"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    stock_level_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("stock_levels.id", ondelete="CASCADE")
    )
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))  # order|guide|other
    reference: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    actor: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class StockMovement(TenantMixin, IdMixin, Base):
    """One line of the ledger: how ``on_hand`` and ``held`` of a level changed, and why.

    ``sku_id`` and ``location_id`` repeat the level's so the ledger filters without a join.
    """

    __tablename__ = "stock_movements"
    __table_args__ = (
        Index("ix_stock_movements_level", "stock_level_id", "id"),
        Index("ix_stock_movements_sku", "merchant_id", "sku_id", "id"),
    )

    stock_level_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("stock_levels.id", ondelete="CASCADE")
    )
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("skus.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("stock_locations.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))  # receive|adjust|count|hold|release|…
    delta_on_hand: Mapped[int] = mapped_column(Integer, default=0)
    delta_held: Mapped[int] = mapped_column(Integer, default=0)
    hold_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("stock_holds.id", ondelete="SET NULL"), nullable=True, index=True
    )
    reason: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
