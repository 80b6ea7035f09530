"""outbox_events: index (aggregate, id)

An ordered subscriber (core.outbox: ``_behind_an_earlier``) asks before each event whether an
earlier event of the same aggregate is still waiting in the outbox; the index answers it
without reading the outbox.

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_events_aggregate", "outbox_events", ["aggregate", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_events_aggregate", table_name="outbox_events")
