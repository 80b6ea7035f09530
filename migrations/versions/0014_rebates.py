"""rebates: commission rules, distributors (分销员), the commission ledger with claw-backs,
settlements and their lines

Revision ID: 0014
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import loopmall.core.db

revision: str = "0014"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "commission_rules",
        sa.Column("store_bp", sa.Integer(), nullable=False),
        sa.Column("guide_bp", sa.Integer(), nullable=False),
        sa.Column("level1_bp", sa.Integer(), nullable=False),
        sa.Column("level2_bp", sa.Integer(), nullable=False),
        sa.Column("distributor_cap_fen", sa.Integer(), nullable=True),
        sa.Column("distributors", sa.String(length=16), nullable=False),
        sa.Column("updated_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=60), nullable=False),
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
            "distributors IN ('everyone', 'approved')",
            name=op.f("ck_commission_rules_distributors_known"),
        ),
        sa.CheckConstraint(
            "distributor_cap_fen IS NULL OR distributor_cap_fen >= 0",
            name=op.f("ck_commission_rules_cap_not_negative"),
        ),
        sa.CheckConstraint(
            "store_bp + guide_bp + level1_bp + level2_bp <= 10000",
            name=op.f("ck_commission_rules_rates_within_100"),
        ),
        sa.CheckConstraint(
            "store_bp >= 0 AND guide_bp >= 0 AND level1_bp >= 0 AND level2_bp >= 0",
            name=op.f("ck_commission_rules_rates_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_commission_rules_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_rules")),
        sa.UniqueConstraint("merchant_id", name=op.f("uq_commission_rules_merchant_id")),
    )
    with op.batch_alter_table("commission_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commission_rules_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "commission_settlements",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("period_start", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("period_end", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.Integer(), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_commission_settlements_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_settlements")),
        sa.UniqueConstraint(
            "merchant_id",
            "period_end",
            name=op.f("uq_commission_settlements_merchant_id_period_end"),
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_commission_settlements_public_id")),
    )
    with op.batch_alter_table("commission_settlements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commission_settlements_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "commission_distributors",
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("applied_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=60), nullable=False),
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
            "status IN ('pending', 'approved', 'rejected', 'revoked')",
            name=op.f("ck_commission_distributors_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_commission_distributors_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_commission_distributors_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_distributors")),
        sa.UniqueConstraint(
            "merchant_id",
            "customer_id",
            name=op.f("uq_commission_distributors_merchant_id_customer_id"),
        ),
    )
    with op.batch_alter_table("commission_distributors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commission_distributors_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "commission_settlement_lines",
        sa.Column(
            "settlement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("earner_kind", sa.String(length=16), nullable=False),
        sa.Column(
            "earner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("earned_fen", sa.Integer(), nullable=False),
        sa.Column("clawed_back_fen", sa.Integer(), nullable=False),
        sa.Column("net_fen", sa.Integer(), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_commission_settlement_lines_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["commission_settlements.id"],
            name=op.f("fk_commission_settlement_lines_settlement_id_commission_settlements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_commission_settlement_lines_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_settlement_lines")),
    )
    with op.batch_alter_table("commission_settlement_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_commission_settlement_lines_earner",
            ["merchant_id", "earner_kind", "earner_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_commission_settlement_lines_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            "ix_commission_settlement_lines_settlement", ["settlement_id", "id"], unique=False
        )

    op.create_table(
        "commission_entries",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("credit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "earning_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("earner_kind", sa.String(length=16), nullable=False),
        sa.Column(
            "earner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("base_fen", sa.Integer(), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "settlement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
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
            "(kind = 'earning' AND amount_fen > 0 AND credit_id IS NOT NULL) OR (kind = 'clawback' AND amount_fen < 0 AND earning_id IS NOT NULL)",
            name=op.f("ck_commission_entries_sign_matches_kind"),
        ),
        sa.CheckConstraint(
            "earner_kind IN ('store', 'staff', 'customer')",
            name=op.f("ck_commission_entries_earner_known"),
        ),
        sa.CheckConstraint(
            "kind IN ('earning', 'clawback')", name=op.f("ck_commission_entries_kind_known")
        ),
        sa.CheckConstraint(
            "rate_bp >= 0 AND rate_bp <= 10000", name=op.f("ck_commission_entries_rate_within_100")
        ),
        sa.ForeignKeyConstraint(
            ["earning_id"],
            ["commission_entries.id"],
            name=op.f("fk_commission_entries_earning_id_commission_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_commission_entries_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_commission_entries_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["commission_settlements.id"],
            name=op.f("fk_commission_entries_settlement_id_commission_settlements"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_commission_entries_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_entries")),
        sa.UniqueConstraint(
            "merchant_id", "credit_id", name=op.f("uq_commission_entries_merchant_id_credit_id")
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_commission_entries_public_id")),
    )
    with op.batch_alter_table("commission_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_commission_entries_earner",
            ["merchant_id", "earner_kind", "earner_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_commission_entries_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            "ix_commission_entries_order", ["merchant_id", "order_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_commission_entries_settlement", ["merchant_id", "settlement_id", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("commission_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_commission_entries_settlement")
        batch_op.drop_index("ix_commission_entries_order")
        batch_op.drop_index(batch_op.f("ix_commission_entries_merchant_id"))
        batch_op.drop_index("ix_commission_entries_earner")

    op.drop_table("commission_entries")
    with op.batch_alter_table("commission_settlement_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_commission_settlement_lines_settlement")
        batch_op.drop_index(batch_op.f("ix_commission_settlement_lines_merchant_id"))
        batch_op.drop_index("ix_commission_settlement_lines_earner")

    op.drop_table("commission_settlement_lines")
    with op.batch_alter_table("commission_distributors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commission_distributors_merchant_id"))

    op.drop_table("commission_distributors")
    with op.batch_alter_table("commission_settlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commission_settlements_merchant_id"))

    op.drop_table("commission_settlements")
    with op.batch_alter_table("commission_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commission_rules_merchant_id"))

    op.drop_table("commission_rules")
