"""Tables of membership: who joined the merchant, and the welcome coupon a join code promised.

``channel_id`` names the o2o join code a customer came in by (a foreign key only: members
reads nothing of o2o).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, BigId, IdMixin, UtcDateTime
from loopmall.core.tenancy import TenantMixin


class Membership(TenantMixin, IdMixin, Base):
    """A customer who joined the merchant's membership (member prices apply from then on)."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("merchant_id", "customer_id"),
        CheckConstraint("status IN ('active', 'cancelled')", name="status_known"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("qr_channels.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(16), default="active")
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WelcomeGrant(TenantMixin, IdMixin, Base):
    """The welcome coupon a join offer promised, kept until the coupon engine issues it."""

    __tablename__ = "welcome_grants"
    __table_args__ = (UniqueConstraint("merchant_id", "membership_id"),)

    membership_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("memberships.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("qr_channels.id", ondelete="SET NULL"), nullable=True
    )
    title: Mapped[str] = mapped_column(String(60))
    amount_fen: Mapped[int] = mapped_column(Integer)
    threshold_fen: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|issued
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)
