"""flashsale: the sale keeps its reservation count (the console's live figure), backfilled

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTERs, both ways: SQLite adds and drops the column in place, where a batch
    # copy of flash_sales (dropping the old table) would cascade into its reservations.
    op.add_column(
        "flash_sales",
        sa.Column("reservations", sa.Integer(), server_default="0", nullable=False),
    )
    op.execute(
        "UPDATE flash_sales SET reservations = ("
        "SELECT COUNT(*) FROM flash_reservations "
        "WHERE flash_reservations.sale_id = flash_sales.id)"
    )


def downgrade() -> None:
    op.drop_column("flash_sales", "reservations")
