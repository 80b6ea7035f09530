"""staff and stores: indexes (merchant_id, name, id) for the console's pickers

The attribution and o2o filters list a merchant's first 200 stores and guides by name: without
an index PostgreSQL read and sorted every store and staff member of the merchant for it (20,000
guides for a national chain, bench chainscale). With one, the first 200 are read in order.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_staff_merchant_name", "staff", ["merchant_id", "name", "id"]),
    ("ix_stores_merchant_name", "stores", ["merchant_id", "name", "id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
