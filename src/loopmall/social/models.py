"""Tables of the social domain: shares (who shared what, and whose share they came from)
and the visits a share link brought.

A share is one customer's link to one target (a product, the mall home, a store…); the
same customer sharing the same target again gets the same share, so a link, once spread,
keeps counting. ``parent_share_id`` is the share the sharer arrived by (A → B → C);
``root_share_id`` names the first share of the chain (NULL on a root) so a chain is read
in one query, and ``depth`` is 0 on a root.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
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


class ShareTarget(StrEnum):
    PRODUCT = "product"
    HOME = "home"
    STORE = "store"
    # Pages that come with later capabilities (promotions, content); refused until then.
    COUPON = "coupon"
    ARTICLE = "article"
    EVENT = "event"


TARGET_KINDS = tuple(k.value for k in ShareTarget)


class Share(TenantMixin, IdMixin, Base):
    __tablename__ = "shares"
    __table_args__ = (
        UniqueConstraint("merchant_id", "sharer_customer_id", "target_kind", "target_ref"),
        CheckConstraint(
            "target_kind IN ({})".format(", ".join(f"'{k}'" for k in TARGET_KINDS)),
            name="target_kind_known",
        ),
        CheckConstraint("depth >= 0", name="depth_not_negative"),
        Index("ix_shares_merchant_root", "merchant_id", "root_share_id"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    sharer_customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    target_kind: Mapped[str] = mapped_column(String(16))
    target_ref: Mapped[str] = mapped_column(String(64), default="")
    parent_share_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("shares.id", ondelete="SET NULL"), nullable=True, index=True
    )
    root_share_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("shares.id", ondelete="SET NULL"), nullable=True
    )
    depth: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ShareVisit(TenantMixin, IdMixin, Base):
    """One opening of a share link by someone other than its sharer."""

    __tablename__ = "share_visits"
    __table_args__ = (Index("ix_share_visits_merchant_share", "merchant_id", "share_id"),)

    share_id: Mapped[int] = mapped_column(BigId, ForeignKey("shares.id", ondelete="CASCADE"))
    visitor_id: Mapped[str] = mapped_column(String(64), default="")
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), nullable=True
    )
    # attribution's touch (a plain integer: no foreign key into another new domain)
    touch_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    in_wechat: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
