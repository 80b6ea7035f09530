"""customer_addresses: the customer's address book (issue #14 item 13)

Delivery addresses kept between orders, one of them the default the checkout starts from.

Revision ID: 0030
Revises: 0029
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import loopmall.core.db

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customer_addresses",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "merchant_id", BigId, sa.ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column(
            "customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("phone", sa.String(30), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("public_id", name="uq_customer_addresses_public_id"),
    )
    op.create_index("ix_customer_addresses_merchant_id", "customer_addresses", ["merchant_id"])
    op.create_index(
        "ix_customer_addresses_customer", "customer_addresses", ["merchant_id", "customer_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_customer_addresses_customer", table_name="customer_addresses")
    op.drop_index("ix_customer_addresses_merchant_id", table_name="customer_addresses")
    op.drop_table("customer_addresses")
