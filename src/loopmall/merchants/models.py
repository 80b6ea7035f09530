"""Merchants (tenants), their micro-mall settings, and their stores."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, IdMixin, UtcDateTime
from loopmall.core.tenancy import TenantMixin


class Merchant(IdMixin, Base):
    """A tenant: a chain, a stall, a seller. Owns everything under its id."""

    __tablename__ = "merchants"

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|suspended
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MallSettings(TenantMixin, IdMixin, Base):
    """The merchant's own micro-mall: name, logo, colours and home page blocks."""

    __tablename__ = "mall_settings"
    __table_args__ = (
        UniqueConstraint("merchant_id"),
        CheckConstraint(
            "guide_discount_cap_bp >= 0 AND guide_discount_cap_bp <= 10000",
            name="guide_discount_cap_range",
        ),
    )

    mall_name: Mapped[str] = mapped_column(String(100))
    logo_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    primary_color: Mapped[str] = mapped_column(String(7), default="#e4393c")
    accent_color: Mapped[str] = mapped_column(String(7), default="#222222")
    blocks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    cod_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The most a guide may take off a store sale's price alone, in basis points of the
    # price pipeline's price; more needs a manager's approval (ADR 0008). 0: none.
    guide_discount_cap_bp: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Store(TenantMixin, IdMixin, Base):
    """An offline store. ``code`` is the merchant's own key (used by imports)."""

    __tablename__ = "stores"
    __table_args__ = (
        UniqueConstraint("merchant_id", "code"),
        # The console's pickers list the first stores by name (migration 0027).
        Index("ix_stores_merchant_name", "merchant_id", "name", "id"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(50), default="")
    district: Mapped[str] = mapped_column(String(50), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    # {"mon": [["10:00", "22:00"]], ...}; a missing day means closed.
    opening_hours: Mapped[dict[str, list[list[str]]]] = mapped_column(JSON, default=dict)
    pickup_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|closed
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
