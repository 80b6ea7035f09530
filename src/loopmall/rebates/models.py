"""Tables of the rebates domain: the merchant's commission rules, its distributors (分销员),
the commission ledger and its settlements.

Money is int fen, rates are basis points. The ledger is append-only: an earning is one row
per attribution credit that carries a rate (unique on the credit id, so a replayed event
books nothing twice); a refund adds a negative claw-back row pointing at the earning it
reduces. Settling stamps the unsettled rows of a period with the settlement's id and writes
one line per earner (and store), so a claw-back booked after a settlement falls into the
next one as a negative amount.
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


class CommissionRules(TenantMixin, IdMixin, Base):
    """One row per merchant (defaults when missing: everything 0, distributors approved).

    ``distributor_cap_fen`` caps what one distributor earns on one order (None: no cap).
    The database refuses rates that sum over 100 %.
    """

    __tablename__ = "commission_rules"
    __table_args__ = (
        UniqueConstraint("merchant_id"),
        CheckConstraint(
            "store_bp >= 0 AND guide_bp >= 0 AND level1_bp >= 0 AND level2_bp >= 0",
            name="rates_not_negative",
        ),
        CheckConstraint(
            "store_bp + guide_bp + level1_bp + level2_bp <= 10000", name="rates_within_100"
        ),
        CheckConstraint(
            "distributor_cap_fen IS NULL OR distributor_cap_fen >= 0", name="cap_not_negative"
        ),
        CheckConstraint("distributors IN ('everyone', 'approved')", name="distributors_known"),
    )

    store_bp: Mapped[int] = mapped_column(Integer, default=0)
    guide_bp: Mapped[int] = mapped_column(Integer, default=0)
    level1_bp: Mapped[int] = mapped_column(Integer, default=0)
    level2_bp: Mapped[int] = mapped_column(Integer, default=0)
    distributor_cap_fen: Mapped[int | None] = mapped_column(Integer, nullable=True)
    distributors: Mapped[str] = mapped_column(String(16), default="approved")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(60), default="")


class Distributor(TenantMixin, IdMixin, Base):
    """A customer who asked to sell on commission; ``status`` moves as
    ``rules.DISTRIBUTORS`` allows."""

    __tablename__ = "commission_distributors"
    __table_args__ = (
        UniqueConstraint("merchant_id", "customer_id"),
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'revoked')", name="status_known"
        ),
    )

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decided_by: Mapped[str] = mapped_column(String(60), default="")


class Settlement(TenantMixin, IdMixin, Base):
    """The entries booked before ``period_end`` that no earlier settlement took."""

    __tablename__ = "commission_settlements"
    __table_args__ = (UniqueConstraint("merchant_id", "period_end"),)

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    period_start: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    period_end: Mapped[datetime] = mapped_column(UtcDateTime)
    entries: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(60), default="")


class CommissionEntry(TenantMixin, IdMixin, Base):
    """A line of the commission ledger: an earning (> 0) or a claw-back (< 0).

    The earner is ``earner_kind`` (store | staff | customer) and ``earner_id`` (that
    table's id); ``store_id`` is the store the credit named (store roles see their stores).
    For an earning ``base_fen`` is the credited amount; for a claw-back it is how much of
    the order had been refunded when it was booked.
    """

    __tablename__ = "commission_entries"
    __table_args__ = (
        UniqueConstraint("merchant_id", "credit_id"),
        CheckConstraint("kind IN ('earning', 'clawback')", name="kind_known"),
        CheckConstraint("earner_kind IN ('store', 'staff', 'customer')", name="earner_known"),
        CheckConstraint(
            "(kind = 'earning' AND amount_fen > 0 AND credit_id IS NOT NULL) OR "
            "(kind = 'clawback' AND amount_fen < 0 AND earning_id IS NOT NULL)",
            name="sign_matches_kind",
        ),
        CheckConstraint("rate_bp >= 0 AND rate_bp <= 10000", name="rate_within_100"),
        Index("ix_commission_entries_order", "merchant_id", "order_id", "id"),
        Index("ix_commission_entries_earner", "merchant_id", "earner_kind", "earner_id", "id"),
        Index("ix_commission_entries_settlement", "merchant_id", "settlement_id", "at"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    # attribution's credit (a plain id: that table belongs to another new domain).
    credit_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    earning_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("commission_entries.id"), nullable=True
    )
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"))
    role: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(String(40), default="")
    earner_kind: Mapped[str] = mapped_column(String(16))
    earner_id: Mapped[int] = mapped_column(BigId)
    store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stores.id"), nullable=True)
    base_fen: Mapped[int] = mapped_column(Integer)
    rate_bp: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    settlement_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("commission_settlements.id"), nullable=True
    )


class SettlementLine(TenantMixin, IdMixin, Base):
    """One earner's (and store's) total in a settlement; ``net_fen`` may be negative when
    claw-backs of earlier periods outweigh this period's earnings."""

    __tablename__ = "commission_settlement_lines"
    __table_args__ = (
        Index("ix_commission_settlement_lines_settlement", "settlement_id", "id"),
        Index("ix_commission_settlement_lines_earner", "merchant_id", "earner_kind", "earner_id"),
    )

    settlement_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("commission_settlements.id", ondelete="CASCADE")
    )
    earner_kind: Mapped[str] = mapped_column(String(16))
    earner_id: Mapped[int] = mapped_column(BigId)
    store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stores.id"), nullable=True)
    entries: Mapped[int] = mapped_column(Integer)
    earned_fen: Mapped[int] = mapped_column(Integer)
    clawed_back_fen: Mapped[int] = mapped_column(Integer)  # ≤ 0
    net_fen: Mapped[int] = mapped_column(Integer)


class _Sums:
    """The running sums a balance keeps (money in fen; ``clawed_back`` as a positive amount).
    ``unsettled_*`` are the part no settlement took yet; ``unsettled_fen`` is their net."""

    entries: Mapped[int] = mapped_column(Integer, default=0)
    earned_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    clawed_back_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    unsettled_entries: Mapped[int] = mapped_column(Integer, default=0)
    unsettled_earned_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    unsettled_clawed_back_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    unsettled_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class CommissionBalance(_Sums, TenantMixin, IdMixin, Base):
    """One earner's (and store's) running sums of the ledger, kept by ``balances.apply`` in
    the transaction that writes the entries and by ``settlement.settle``; ``store_key`` is the
    store id or 0 (so the key is unique without NULLs). ``balances.reconcile`` checks them."""

    __tablename__ = "commission_balances"
    __table_args__ = (
        UniqueConstraint("merchant_id", "earner_kind", "earner_id", "store_key"),
        Index("ix_commission_balances_unsettled", "merchant_id", "unsettled_fen"),
        Index("ix_commission_balances_store", "merchant_id", "store_id"),
    )

    earner_kind: Mapped[str] = mapped_column(String(16))
    earner_id: Mapped[int] = mapped_column(BigId)
    store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stores.id"), nullable=True)
    store_key: Mapped[int] = mapped_column(BigId)


class CommissionTotals(_Sums, TenantMixin, IdMixin, Base):
    """The merchant's running sums of the whole ledger (one row), kept like the balances."""

    __tablename__ = "commission_totals"
    __table_args__ = (UniqueConstraint("merchant_id"),)
