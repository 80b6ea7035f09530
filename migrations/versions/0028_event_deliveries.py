"""outbox events carry a version and an aggregate; one delivery row per (event, subscriber)

Typed events (issue #12): the outbox row keeps the event's schema version and the aggregate
("order:42") that ordered subscribers receive in order. Each subscriber's delivery of an event
has its own row — status, attempts, backoff, dead letter — so one failing subscriber no
longer replays or blocks the others, and the unique pair is what makes a replay a no-op.

Outbox rows an older version left ``dead`` stay as they are (their subscribers are not known
here); the dead-letter page lists deliveries.

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import loopmall.core.db

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("outbox_events") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("aggregate", sa.String(80), nullable=True))
    op.create_table(
        "event_deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "event_id",
            BigId,
            sa.ForeignKey("outbox_events.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("merchant_id", sa.BigInteger(), nullable=True),
        sa.Column("subscriber", sa.String(120), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("aggregate", sa.String(80), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("available_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("done_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint("event_id", "subscriber", name="uq_event_deliveries_pair"),
    )
    op.create_index("ix_event_deliveries_event_id", "event_deliveries", ["event_id"])
    op.create_index("ix_event_deliveries_due", "event_deliveries", ["status", "available_at"])
    op.create_index(
        "ix_event_deliveries_aggregate",
        "event_deliveries",
        ["subscriber", "aggregate", "event_id"],
    )


def downgrade() -> None:
    op.drop_table("event_deliveries")
    with op.batch_alter_table("outbox_events") as batch:
        batch.drop_column("aggregate")
        batch.drop_column("version")
