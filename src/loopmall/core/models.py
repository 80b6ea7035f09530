"""Global tables of the core: the outbox, its deliveries, and idempotency records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, BigId, IdMixin, UtcDateTime


class OutboxEvent(IdMixin, Base):
    """An event written in the same transaction as the change it announces."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_due", "status", "available_at"),
        # An ordered subscriber asks whether an earlier event of the aggregate is through.
        Index("ix_outbox_events_aggregate", "aggregate", "id"),
    )

    merchant_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    topic: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # "order:42": the thing whose events ordered subscribers receive in order.
    aggregate: Mapped[str | None] = mapped_column(String(80), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending: committed, not yet handed on | done: handed to the transport (each
    # subscriber's fate is its EventDelivery row)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class EventDelivery(IdMixin, Base):
    """One event's delivery to one subscriber: at most one per pair, and ``done`` exactly
    when the subscriber's work committed (the row is written in the same transaction)."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "subscriber", name="uq_event_deliveries_pair"),
        Index("ix_event_deliveries_due", "status", "available_at"),
        Index("ix_event_deliveries_aggregate", "subscriber", "aggregate", "event_id"),
    )

    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True
    )
    merchant_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    subscriber: Mapped[str] = mapped_column(String(120))
    topic: Mapped[str] = mapped_column(String(100))
    aggregate: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # pending (waiting for its backoff or its turn) | done | dead (an operator may retry)
    # | settled (given up by the owning domain's sweep, which handled it another way)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class IdempotencyRecord(IdMixin, Base):
    """The first answer given to an ``Idempotency-Key``, replayed for retries."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    scope: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer, default=0)
    response_body: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
