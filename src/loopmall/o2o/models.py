"""Tables of the o2o domain: QR channels and their scans (memberships and welcome grants are
``members.models``).

A channel's ``code`` is global (the short scan URL ``/q/{code}`` names no merchant), random
and unique. ``unique_key`` makes the one store code per store and the one guide code per
guide unique under concurrency (``store:<id>`` / ``guide:<id>``; NULL for the other kinds,
which may have many codes).
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
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, BigId, IdMixin, UtcDateTime
from loopmall.core.tenancy import TenantMixin


class QrChannel(TenantMixin, IdMixin, Base):
    """A printable QR code: a store, a guide, a product in a store, a poster placement, or a
    join-membership offer. Never deleted (its scans and credits point at it); deactivated."""

    __tablename__ = "qr_channels"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('store', 'guide', 'product', 'placement', 'join')", name="kind_known"
        ),
        CheckConstraint(
            "coupon_fen IS NULL OR (coupon_fen > 0 AND coupon_threshold_fen >= 0)",
            name="coupon_amounts",
        ),
        UniqueConstraint("merchant_id", "unique_key"),
        Index("ix_qr_channels_merchant_kind", "merchant_id", "kind", "id"),
        Index("ix_qr_channels_guide", "merchant_id", "guide_staff_id"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    unique_key: Mapped[str | None] = mapped_column(String(40), nullable=True)
    name: Mapped[str] = mapped_column(String(100))
    store_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("stores.id", ondelete="RESTRICT"), nullable=True
    )
    guide_staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="RESTRICT"), nullable=True
    )
    product_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="RESTRICT"), nullable=True
    )
    sku_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("skus.id", ondelete="RESTRICT"), nullable=True
    )
    # A poster placement: the third-party shop or publication it hangs in.
    place_name: Mapped[str] = mapped_column(String(100), default="")
    place_address: Mapped[str] = mapped_column(String(255), default="")
    # The poster's words (the merchant's logo comes from the mall settings).
    poster_title: Mapped[str] = mapped_column(String(60), default="")
    poster_text: Mapped[str] = mapped_column(Text, default="")
    # A join offer's welcome coupon, stored as a grant until the coupon engine exists.
    coupon_title: Mapped[str] = mapped_column(String(60), default="")
    coupon_fen: Mapped[int | None] = mapped_column(Integer, nullable=True)
    coupon_threshold_fen: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class QrScan(TenantMixin, IdMixin, Base):
    """One scan of a channel: who (customer, else the anonymous visitor id), when, where.

    ``customer_id`` is filled in when the visitor logs in (``o2o.service.after_login``).
    ``touch_id`` is attribution's touch row (another domain's table: a plain integer).
    """

    __tablename__ = "qr_scans"
    __table_args__ = (
        Index("ix_qr_scans_channel", "merchant_id", "channel_id", "at"),
        Index("ix_qr_scans_visitor", "merchant_id", "visitor_id"),
    )

    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("qr_channels.id", ondelete="CASCADE"))
    visitor_id: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    touch_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
