"""o2o: QR channels (store, guide, product in a store, poster placement, join offer), their
scans, memberships and welcome-coupon grants

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import loopmall.core.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qr_channels",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unique_key", sa.String(length=40), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "guide_staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("place_name", sa.String(length=100), nullable=False),
        sa.Column("place_address", sa.String(length=255), nullable=False),
        sa.Column("poster_title", sa.String(length=60), nullable=False),
        sa.Column("poster_text", sa.Text(), nullable=False),
        sa.Column("coupon_title", sa.String(length=60), nullable=False),
        sa.Column("coupon_fen", sa.Integer(), nullable=True),
        sa.Column("coupon_threshold_fen", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
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
            "kind IN ('store', 'guide', 'product', 'placement', 'join')",
            name=op.f("ck_qr_channels_kind_known"),
        ),
        sa.CheckConstraint(
            "coupon_fen IS NULL OR (coupon_fen > 0 AND coupon_threshold_fen >= 0)",
            name=op.f("ck_qr_channels_coupon_amounts"),
        ),
        sa.ForeignKeyConstraint(
            ["guide_staff_id"],
            ["staff.id"],
            name=op.f("fk_qr_channels_guide_staff_id_staff"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_qr_channels_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_qr_channels_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_qr_channels_sku_id_skus"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_qr_channels_store_id_stores"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qr_channels")),
        sa.UniqueConstraint("code", name=op.f("uq_qr_channels_code")),
        sa.UniqueConstraint(
            "merchant_id", "unique_key", name=op.f("uq_qr_channels_merchant_id_unique_key")
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_qr_channels_public_id")),
    )
    with op.batch_alter_table("qr_channels", schema=None) as batch_op:
        batch_op.create_index(
            "ix_qr_channels_guide", ["merchant_id", "guide_staff_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_qr_channels_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            "ix_qr_channels_merchant_kind", ["merchant_id", "kind", "id"], unique=False
        )

    op.create_table(
        "memberships",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("joined_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
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
            "status IN ('active', 'cancelled')", name=op.f("ck_memberships_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["qr_channels.id"],
            name=op.f("fk_memberships_channel_id_qr_channels"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_memberships_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_memberships_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint(
            "merchant_id", "customer_id", name=op.f("uq_memberships_merchant_id_customer_id")
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_memberships_public_id")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_memberships_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_memberships_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "qr_scans",
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("visitor_id", sa.String(length=40), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("touch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
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
            ["channel_id"],
            ["qr_channels.id"],
            name=op.f("fk_qr_scans_channel_id_qr_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_qr_scans_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_qr_scans_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qr_scans")),
    )
    with op.batch_alter_table("qr_scans", schema=None) as batch_op:
        batch_op.create_index(
            "ix_qr_scans_channel", ["merchant_id", "channel_id", "at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_qr_scans_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_qr_scans_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index("ix_qr_scans_visitor", ["merchant_id", "visitor_id"], unique=False)

    op.create_table(
        "welcome_grants",
        sa.Column(
            "membership_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("threshold_fen", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("granted_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
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
            ["channel_id"],
            ["qr_channels.id"],
            name=op.f("fk_welcome_grants_channel_id_qr_channels"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_welcome_grants_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_welcome_grants_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_welcome_grants_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_welcome_grants")),
        sa.UniqueConstraint(
            "merchant_id", "membership_id", name=op.f("uq_welcome_grants_merchant_id_membership_id")
        ),
    )
    with op.batch_alter_table("welcome_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_welcome_grants_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_welcome_grants_merchant_id"), ["merchant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("welcome_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_welcome_grants_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_welcome_grants_customer_id"))

    op.drop_table("welcome_grants")
    with op.batch_alter_table("qr_scans", schema=None) as batch_op:
        batch_op.drop_index("ix_qr_scans_visitor")
        batch_op.drop_index(batch_op.f("ix_qr_scans_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_qr_scans_customer_id"))
        batch_op.drop_index("ix_qr_scans_channel")

    op.drop_table("qr_scans")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_memberships_customer_id"))

    op.drop_table("memberships")
    with op.batch_alter_table("qr_channels", schema=None) as batch_op:
        batch_op.drop_index("ix_qr_channels_merchant_kind")
        batch_op.drop_index(batch_op.f("ix_qr_channels_merchant_id"))
        batch_op.drop_index("ix_qr_channels_guide")

    op.drop_table("qr_channels")
