"""Tables of the attribution domain: touches, bindings, each merchant's rules, credits.

A *touch* is one moment a customer (or a not-yet-known visitor) met a store, a guide, a
share or a poster: a QR scan, a share landing, a message to a guide, a join. A *binding*
ties a customer to one store and/or guide (导购) until a take-over the rules allow. A
*credit* is one line of the ledger: for one order, one role (store, guide, sharer,
upstream sharer, placement), one beneficiary, the amount and the rule that decided it.

Channels (o2o) and shares (social) are other new domains: their ids are plain integers
here, no foreign keys.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, BigId, IdMixin, UtcDateTime
from loopmall.core.tenancy import TenantMixin


class Touch(TenantMixin, IdMixin, Base):
    """One contact of a customer or visitor with a store, guide, share or placement.

    Touches are many (a million per merchant is ordinary), so the table is narrow and has
    no foreign keys: a scan is written as fast as it can be.
    """

    __tablename__ = "attribution_touches"
    __table_args__ = (
        CheckConstraint("kind IN ('scan', 'share', 'guide', 'join')", name="kind_known"),
        # "This customer's touches before T" — the one query attribution makes.
        Index("ix_attribution_touches_customer_at", "merchant_id", "customer_id", "at"),
        Index("ix_attribution_touches_visitor", "merchant_id", "visitor_id"),
    )

    kind: Mapped[str] = mapped_column(String(8))
    customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    visitor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    channel_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    store_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    guide_staff_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    share_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    sharer_customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    upstream_sharer_customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    placement: Mapped[str] = mapped_column(String(120), default="")


class Binding(TenantMixin, IdMixin, Base):
    """The store and/or guide a customer belongs to (one per customer).

    ``history`` lists every move: ``{"at", "from_store_id", "from_guide_staff_id",
    "to_store_id", "to_guide_staff_id", "source"}``.
    """

    __tablename__ = "attribution_bindings"
    __table_args__ = (
        UniqueConstraint("merchant_id", "customer_id"),
        CheckConstraint("store_id IS NOT NULL OR guide_staff_id IS NOT NULL", name="bound_to"),
        Index("ix_attribution_bindings_guide", "merchant_id", "guide_staff_id"),
        Index("ix_attribution_bindings_store", "merchant_id", "store_id"),
    )

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stores.id"), nullable=True)
    guide_staff_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(32))
    bound_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_contact_at: Mapped[datetime] = mapped_column(UtcDateTime)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class AttributionRules(TenantMixin, IdMixin, Base):
    """A merchant's attribution rules (one row; defaults when there is none yet)."""

    __tablename__ = "attribution_rules"
    __table_args__ = (
        UniqueConstraint("merchant_id"),
        CheckConstraint(
            "precedence IN ('last_touch', 'first_touch', 'binding')", name="precedence_known"
        ),
        CheckConstraint("window_days >= 1 AND window_days <= 365", name="window_range"),
        CheckConstraint(
            "takeover_after_days >= 0 AND takeover_after_days <= 3650", name="takeover_range"
        ),
    )

    window_days: Mapped[int] = mapped_column(Integer, default=15)
    precedence: Mapped[str] = mapped_column(String(16), default="last_touch")
    bind_on_first_touch: Mapped[bool] = mapped_column(Boolean, default=True)
    # 0: a binding is never taken over by another store's or guide's touch.
    takeover_after_days: Mapped[int] = mapped_column(Integer, default=30)
    bound_store_keeps_online: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Credit(TenantMixin, IdMixin, Base):
    """One line of the ledger: who gets credit for one role of one order, and why."""

    __tablename__ = "attribution_credits"
    __table_args__ = (
        # One credit per role of an order. Merchant first: this index serves every lookup of
        # an order's credits (with merchant_id = ? the planner otherwise takes the merchant
        # index and scans all its credits — SQLite did, 0.55 s per order at 445,000 credits).
        UniqueConstraint("merchant_id", "order_id", "role"),
        CheckConstraint(
            "role IN ('store', 'guide', 'sharer', 'upstream_sharer', 'placement')",
            name="role_known",
        ),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        Index("ix_attribution_credits_merchant_at", "merchant_id", "at"),
        # The ledger's pages, newest first, by cursor on id: the merchant's, one store's,
        # one guide's, one role's, one rule's — each read by index with a LIMIT (without
        # them PostgreSQL walked the primary key back through other merchants' and other
        # stores' credits, or read every credit of the merchant for a rare role or rule).
        Index("ix_attribution_credits_newest", "merchant_id", "id"),
        Index("ix_attribution_credits_store_newest", "merchant_id", "store_id", "id"),
        Index("ix_attribution_credits_guide_newest", "merchant_id", "guide_staff_id", "id"),
        Index("ix_attribution_credits_role_newest", "merchant_id", "role", "id"),
        Index("ix_attribution_credits_rule_newest", "merchant_id", "rule", "id"),
        Index("ix_attribution_credits_channel", "merchant_id", "channel_id"),
        Index("ix_attribution_credits_share", "merchant_id", "share_id"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    role: Mapped[str] = mapped_column(String(16))
    store_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    guide_staff_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    sharer_customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    channel_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    share_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    placement: Mapped[str] = mapped_column(String(120), default="")
    amount_fen: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(40))
    touch_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class CreditTotal(TenantMixin, IdMixin, Base):
    """Running totals of the ledger: per scope (the merchant's ``all``, one ``store``, one
    ``guide``), Asia/Shanghai day, role and rule — the credits and their amount; and per QR
    ``channel`` and ``share`` and day (role and rule ``''``) — the orders credited through
    it (``credits``: an order once however many of its credits name it) and their amount.

    Kept by :func:`loopmall.attribution.ledger.credit_orders` in the transaction that writes
    the credits (``credits = credits + :n``), so the ledger's per-role totals read a few
    rows per day instead of every credit of the merchant (a chain's million: 1 s). An order
    has at most one credit per role, so a role's credits are also its distinct orders.
    """

    __tablename__ = "attribution_totals"
    __table_args__ = (
        UniqueConstraint("merchant_id", "scope", "scope_id", "day", "role", "rule"),
        CheckConstraint(
            "scope IN ('all', 'store', 'guide', 'channel', 'share')", name="scope_known"
        ),
    )

    scope: Mapped[str] = mapped_column(String(8))
    # The store's or guide's id; 0 for the merchant's ``all`` (a key column is never NULL,
    # so one row per key is what the unique constraint keeps).
    scope_id: Mapped[int] = mapped_column(BigId)
    day: Mapped[date] = mapped_column(Date)
    role: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(40))
    credits: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
