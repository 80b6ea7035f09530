"""social: shares (sharer, target, the share it came from, its chain) and share visits

Revision ID: 0013
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import loopmall.core.db

revision: str = "0013"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "shares",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("sharer_customer_id", BIG_ID, nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_ref", sa.String(length=64), nullable=False),
        sa.Column("parent_share_id", BIG_ID, nullable=True),
        sa.Column("root_share_id", BIG_ID, nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("merchant_id", BIG_ID, nullable=False),
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.CheckConstraint(
            "target_kind IN ('product', 'home', 'store', 'coupon', 'article', 'event')",
            name=op.f("ck_shares_target_kind_known"),
        ),
        sa.CheckConstraint("depth >= 0", name=op.f("ck_shares_depth_not_negative")),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_shares_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_share_id"],
            ["shares.id"],
            name=op.f("fk_shares_parent_share_id_shares"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["root_share_id"],
            ["shares.id"],
            name=op.f("fk_shares_root_share_id_shares"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sharer_customer_id"],
            ["customers.id"],
            name=op.f("fk_shares_sharer_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shares")),
        sa.UniqueConstraint(
            "merchant_id",
            "sharer_customer_id",
            "target_kind",
            "target_ref",
            name=op.f("uq_shares_merchant_id_sharer_customer_id_target_kind_target_ref"),
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_shares_public_id")),
    )
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shares_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index(
            "ix_shares_merchant_root", ["merchant_id", "root_share_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_shares_parent_share_id"), ["parent_share_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_shares_sharer_customer_id"), ["sharer_customer_id"], unique=False
        )

    op.create_table(
        "share_visits",
        sa.Column("share_id", BIG_ID, nullable=False),
        sa.Column("visitor_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=True),
        sa.Column("touch_id", BIG_ID, nullable=True),
        sa.Column("in_wechat", sa.Boolean(), nullable=False),
        sa.Column("at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("merchant_id", BIG_ID, nullable=False),
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_share_visits_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_share_visits_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["share_id"],
            ["shares.id"],
            name=op.f("fk_share_visits_share_id_shares"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_visits")),
    )
    with op.batch_alter_table("share_visits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_share_visits_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            "ix_share_visits_merchant_share", ["merchant_id", "share_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("share_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_share_visits_merchant_share")
        batch_op.drop_index(batch_op.f("ix_share_visits_merchant_id"))
    op.drop_table("share_visits")
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shares_sharer_customer_id"))
        batch_op.drop_index(batch_op.f("ix_shares_parent_share_id"))
        batch_op.drop_index("ix_shares_merchant_root")
        batch_op.drop_index(batch_op.f("ix_shares_merchant_id"))
    op.drop_table("shares")
