"""orders: an index for "the merchant's orders of one kind in one status, newest first"

``orders.store_sale.unpaid_store_sales`` (the till's and the approvers' list) asks for a
merchant's store sales still ``created``, newest first. Without this index PostgreSQL walked
the primary key backwards through every order of the merchant (bench chainscale, 1 M orders:
334 ms, 0.04 ms with it).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_kind_status", "orders", ["merchant_id", "kind", "status", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_orders_kind_status", table_name="orders")
