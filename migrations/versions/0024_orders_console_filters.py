"""orders: indexes for the console's order search and date filter

``/console/orders`` (``orders.queries.list_orders``) finds an order by number, pickup code or
the recipient's phone, and lists a date range newest first. The phone had no index, so a
search read every order of the merchant (PostgreSQL, bench chainscale 1/10: a parallel
sequential scan of 100 k orders, 32 ms; ∝ the merchant); a range of days long ago walked the
primary key backwards through every newer order (11 k rows for a day 300 days back).

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_phone", "orders", ["merchant_id", "recipient_phone", "id"], unique=False
    )
    op.create_index(
        "ix_orders_created", "orders", ["merchant_id", "created_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_orders_created", table_name="orders")
    op.drop_index("ix_orders_phone", table_name="orders")
