"""inventory: stock locations, stock levels, holds and the movement ledger

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:16:49.160215
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import loopmall.core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stock_locations",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
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
        sa.CheckConstraint(
            "(kind = 'store') = (store_id IS NOT NULL)",
            name=op.f("ck_stock_locations_store_iff_store_kind"),
        ),
        sa.CheckConstraint(
            "kind IN ('warehouse', 'store')", name=op.f("ck_stock_locations_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_stock_locations_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_stock_locations_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_locations")),
        sa.UniqueConstraint(
            "merchant_id", "kind", "code", name=op.f("uq_stock_locations_merchant_id_kind_code")
        ),
        sa.UniqueConstraint(
            "merchant_id", "store_id", name=op.f("uq_stock_locations_merchant_id_store_id")
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_stock_locations_public_id")),
    )
    with op.batch_alter_table("stock_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_locations_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            "uq_stock_locations_default",
            ["merchant_id"],
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )

    op.create_table(
        "stock_levels",
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
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
        sa.CheckConstraint("held <= on_hand", name=op.f("ck_stock_levels_held_within_on_hand")),
        sa.CheckConstraint("held >= 0", name=op.f("ck_stock_levels_held_not_negative")),
        sa.CheckConstraint("on_hand >= 0", name=op.f("ck_stock_levels_on_hand_not_negative")),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["stock_locations.id"],
            name=op.f("fk_stock_levels_location_id_stock_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_stock_levels_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_stock_levels_sku_id_skus"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_levels")),
        sa.UniqueConstraint(
            "sku_id", "location_id", name=op.f("uq_stock_levels_sku_id_location_id")
        ),
    )
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.create_index("ix_stock_levels_location", ["location_id", "sku_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stock_levels_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "stock_holds",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column(
            "stock_level_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("expires_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
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
            "status IN ('active', 'consumed', 'released', 'lapsed')",
            name=op.f("ck_stock_holds_status_known"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_stock_holds_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_stock_holds_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stock_level_id"],
            ["stock_levels.id"],
            name=op.f("fk_stock_holds_stock_level_id_stock_levels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_holds")),
        sa.UniqueConstraint("public_id", name=op.f("uq_stock_holds_public_id")),
    )
    with op.batch_alter_table("stock_holds", schema=None) as batch_op:
        batch_op.create_index("ix_stock_holds_due", ["status", "expires_at"], unique=False)
        batch_op.create_index(
            "ix_stock_holds_level_due", ["stock_level_id", "status", "expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_holds_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            "ix_stock_holds_reference", ["merchant_id", "reference"], unique=False
        )

    op.create_table(
        "stock_movements",
        sa.Column(
            "stock_level_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("delta_on_hand", sa.Integer(), nullable=False),
        sa.Column("delta_held", sa.Integer(), nullable=False),
        sa.Column("hold_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["stock_holds.id"],
            name=op.f("fk_stock_movements_hold_id_stock_holds"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["stock_locations.id"],
            name=op.f("fk_stock_movements_location_id_stock_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_stock_movements_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_stock_movements_sku_id_skus"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["stock_level_id"],
            ["stock_levels.id"],
            name=op.f("fk_stock_movements_stock_level_id_stock_levels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
    )
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_movements_hold_id"), ["hold_id"], unique=False)
        batch_op.create_index("ix_stock_movements_level", ["stock_level_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stock_movements_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            "ix_stock_movements_sku", ["merchant_id", "sku_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_movements_sku")
        batch_op.drop_index(batch_op.f("ix_stock_movements_merchant_id"))
        batch_op.drop_index("ix_stock_movements_level")
        batch_op.drop_index(batch_op.f("ix_stock_movements_hold_id"))

    op.drop_table("stock_movements")
    with op.batch_alter_table("stock_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_holds_reference")
        batch_op.drop_index(batch_op.f("ix_stock_holds_merchant_id"))
        batch_op.drop_index("ix_stock_holds_level_due")
        batch_op.drop_index("ix_stock_holds_due")

    op.drop_table("stock_holds")
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_levels_merchant_id"))
        batch_op.drop_index("ix_stock_levels_location")

    op.drop_table("stock_levels")
    with op.batch_alter_table("stock_locations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_stock_locations_default",
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
        batch_op.drop_index(batch_op.f("ix_stock_locations_merchant_id"))

    op.drop_table("stock_locations")
