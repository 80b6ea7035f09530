"""flashsale: sales, reservations, stock buckets, tickets, used sale tokens

Revision ID: 0016
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import loopmall.core.db

revision: str = "0016"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flash_sales",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("list_fen", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("per_person_limit", sa.Integer(), nullable=False),
        sa.Column("pay_within_seconds", sa.Integer(), nullable=False),
        sa.Column("buckets", sa.Integer(), nullable=False),
        sa.Column("gate", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reserve_from", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("reserve_until", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("starts_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.CheckConstraint("gate IN ('db', 'redis')", name=op.f("ck_flash_sales_gate_known")),
        sa.CheckConstraint(
            "status IN ('active', 'cancelled')", name=op.f("ck_flash_sales_status_known")
        ),
        sa.CheckConstraint("per_person_limit >= 1", name=op.f("ck_flash_sales_limit_positive")),
        sa.CheckConstraint("price_fen > 0", name=op.f("ck_flash_sales_price_positive")),
        sa.CheckConstraint("stock > 0", name=op.f("ck_flash_sales_stock_positive")),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["stock_locations.id"],
            name=op.f("fk_flash_sales_location_id_stock_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_flash_sales_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_flash_sales_sku_id_skus")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_sales")),
        sa.UniqueConstraint("public_id", name=op.f("uq_flash_sales_public_id")),
    )
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flash_sales_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            "ix_flash_sales_merchant_starts", ["merchant_id", "starts_at"], unique=False
        )

    op.create_table(
        "flash_buckets",
        sa.Column("sale_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.CheckConstraint("remaining >= 0", name=op.f("ck_flash_buckets_remaining_not_negative")),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_flash_buckets_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["flash_sales.id"],
            name=op.f("fk_flash_buckets_sale_id_flash_sales"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_buckets")),
        sa.UniqueConstraint("sale_id", "idx", name=op.f("uq_flash_buckets_sale_id_idx")),
    )
    with op.batch_alter_table("flash_buckets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flash_buckets_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "flash_reservations",
        sa.Column("sale_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_flash_reservations_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["flash_sales.id"],
            name=op.f("fk_flash_reservations_sale_id_flash_sales"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sale_id", "customer_id", name=op.f("pk_flash_reservations")),
    )
    with op.batch_alter_table("flash_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flash_reservations_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "flash_tickets",
        sa.Column("sale_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("accepted_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("redis_returned_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('accepted', 'ordered', 'paid', 'lapsed')",
            name=op.f("ck_flash_tickets_status_known"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_flash_tickets_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_flash_tickets_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_flash_tickets_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_flash_tickets_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["flash_sales.id"],
            name=op.f("fk_flash_tickets_sale_id_flash_sales"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_tickets")),
        sa.UniqueConstraint("request_id", name=op.f("uq_flash_tickets_request_id")),
        sa.UniqueConstraint(
            "sale_id", "customer_id", name=op.f("uq_flash_tickets_sale_id_customer_id")
        ),
    )
    with op.batch_alter_table("flash_tickets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flash_tickets_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index("ix_flash_tickets_order", ["order_id"], unique=False)
        batch_op.create_index("ix_flash_tickets_sale_status", ["sale_id", "status"], unique=False)

    op.create_table(
        "flash_used_tokens",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("sale_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_flash_used_tokens_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["flash_sales.id"],
            name=op.f("fk_flash_used_tokens_sale_id_flash_sales"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_flash_used_tokens")),
    )
    with op.batch_alter_table("flash_used_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flash_used_tokens_merchant_id"), ["merchant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("flash_used_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flash_used_tokens_merchant_id"))

    op.drop_table("flash_used_tokens")

    with op.batch_alter_table("flash_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_flash_tickets_sale_status")
        batch_op.drop_index("ix_flash_tickets_order")
        batch_op.drop_index(batch_op.f("ix_flash_tickets_merchant_id"))

    op.drop_table("flash_tickets")

    with op.batch_alter_table("flash_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flash_reservations_merchant_id"))

    op.drop_table("flash_reservations")

    with op.batch_alter_table("flash_buckets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flash_buckets_merchant_id"))

    op.drop_table("flash_buckets")

    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.drop_index("ix_flash_sales_merchant_starts")
        batch_op.drop_index(batch_op.f("ix_flash_sales_merchant_id"))

    op.drop_table("flash_sales")
