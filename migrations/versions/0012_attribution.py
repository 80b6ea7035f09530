"""attribution: touches, customer bindings, each merchant's rules, the credit ledger

Revision ID: 0012
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import loopmall.core.db

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attribution_rules",
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("precedence", sa.String(length=16), nullable=False),
        sa.Column("bind_on_first_touch", sa.Boolean(), nullable=False),
        sa.Column("takeover_after_days", sa.Integer(), nullable=False),
        sa.Column("bound_store_keeps_online", sa.Boolean(), nullable=False),
        sa.Column("updated_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
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
            "precedence IN ('last_touch', 'first_touch', 'binding')",
            name=op.f("ck_attribution_rules_precedence_known"),
        ),
        sa.CheckConstraint(
            "takeover_after_days >= 0 AND takeover_after_days <= 3650",
            name=op.f("ck_attribution_rules_takeover_range"),
        ),
        sa.CheckConstraint(
            "window_days >= 1 AND window_days <= 365",
            name=op.f("ck_attribution_rules_window_range"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_attribution_rules_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribution_rules")),
        sa.UniqueConstraint("merchant_id", name=op.f("uq_attribution_rules_merchant_id")),
    )
    with op.batch_alter_table("attribution_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attribution_rules_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "attribution_touches",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("visitor_id", sa.String(length=64), nullable=True),
        sa.Column("at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "guide_staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("share_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "sharer_customer_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "upstream_sharer_customer_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("placement", sa.String(length=120), nullable=False),
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
            "kind IN ('scan', 'share', 'guide', 'join')",
            name=op.f("ck_attribution_touches_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_attribution_touches_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribution_touches")),
    )
    with op.batch_alter_table("attribution_touches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attribution_touches_customer_at", ["merchant_id", "customer_id", "at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_attribution_touches_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            "ix_attribution_touches_visitor", ["merchant_id", "visitor_id"], unique=False
        )

    op.create_table(
        "attribution_bindings",
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "guide_staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("bound_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_contact_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
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
            "store_id IS NOT NULL OR guide_staff_id IS NOT NULL",
            name=op.f("ck_attribution_bindings_bound_to"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_attribution_bindings_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["guide_staff_id"],
            ["staff.id"],
            name=op.f("fk_attribution_bindings_guide_staff_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_attribution_bindings_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_attribution_bindings_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribution_bindings")),
        sa.UniqueConstraint(
            "merchant_id",
            "customer_id",
            name=op.f("uq_attribution_bindings_merchant_id_customer_id"),
        ),
    )
    with op.batch_alter_table("attribution_bindings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attribution_bindings_guide", ["merchant_id", "guide_staff_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_attribution_bindings_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            "ix_attribution_bindings_store", ["merchant_id", "store_id"], unique=False
        )

    op.create_table(
        "attribution_credits",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "guide_staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "sharer_customer_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("share_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("placement", sa.String(length=120), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("touch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
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
            "role IN ('store', 'guide', 'sharer', 'upstream_sharer', 'placement')",
            name=op.f("ck_attribution_credits_role_known"),
        ),
        sa.CheckConstraint(
            "amount_fen >= 0", name=op.f("ck_attribution_credits_amount_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_attribution_credits_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_attribution_credits_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribution_credits")),
        sa.UniqueConstraint(
            "merchant_id",
            "order_id",
            "role",
            name=op.f("uq_attribution_credits_merchant_id_order_id_role"),
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_attribution_credits_public_id")),
    )
    with op.batch_alter_table("attribution_credits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attribution_credits_channel", ["merchant_id", "channel_id"], unique=False
        )
        batch_op.create_index(
            "ix_attribution_credits_merchant_at", ["merchant_id", "at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_attribution_credits_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            "ix_attribution_credits_share", ["merchant_id", "share_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("attribution_credits", schema=None) as batch_op:
        batch_op.drop_index("ix_attribution_credits_share")
        batch_op.drop_index(batch_op.f("ix_attribution_credits_merchant_id"))
        batch_op.drop_index("ix_attribution_credits_merchant_at")
        batch_op.drop_index("ix_attribution_credits_channel")

    op.drop_table("attribution_credits")
    with op.batch_alter_table("attribution_bindings", schema=None) as batch_op:
        batch_op.drop_index("ix_attribution_bindings_store")
        batch_op.drop_index(batch_op.f("ix_attribution_bindings_merchant_id"))
        batch_op.drop_index("ix_attribution_bindings_guide")

    op.drop_table("attribution_bindings")
    with op.batch_alter_table("attribution_touches", schema=None) as batch_op:
        batch_op.drop_index("ix_attribution_touches_visitor")
        batch_op.drop_index(batch_op.f("ix_attribution_touches_merchant_id"))
        batch_op.drop_index("ix_attribution_touches_customer_at")

    op.drop_table("attribution_touches")
    with op.batch_alter_table("attribution_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attribution_rules_merchant_id"))

    op.drop_table("attribution_rules")
