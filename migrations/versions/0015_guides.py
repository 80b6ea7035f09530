"""guides: guide settings, conversations and messages, customer tags, guide holds, fittings

Revision ID: 0015
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import loopmall.core.db

revision: str = "0015"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guide_settings",
        sa.Column("max_hold_seconds", sa.Integer(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
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
            "max_hold_seconds > 0", name=op.f("ck_guide_settings_max_hold_positive")
        ),
        sa.CheckConstraint("slot_minutes > 0", name=op.f("ck_guide_settings_slot_positive")),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_guide_settings_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guide_settings")),
        sa.UniqueConstraint("merchant_id", name=op.f("uq_guide_settings_merchant_id")),
    )
    with op.batch_alter_table("guide_settings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guide_settings_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "guide_conversations",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "guide_staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("guide_unread", sa.Integer(), nullable=False),
        sa.Column("customer_unread", sa.Integer(), nullable=False),
        sa.Column("last_message_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
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
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_guide_conversations_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["guide_staff_id"],
            ["staff.id"],
            name=op.f("fk_guide_conversations_guide_staff_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_guide_conversations_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_guide_conversations_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guide_conversations")),
        sa.UniqueConstraint("public_id", name=op.f("uq_guide_conversations_public_id")),
    )
    with op.batch_alter_table("guide_conversations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_guide_conversations_customer", ["merchant_id", "customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_guide_conversations_guide",
            ["merchant_id", "guide_staff_id", "last_message_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_guide_conversations_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "guide_customer_tags",
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tag", sa.String(length=30), nullable=False),
        sa.Column("staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
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
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_guide_customer_tags_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_guide_customer_tags_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_guide_customer_tags_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guide_customer_tags")),
        sa.UniqueConstraint(
            "customer_id", "tag", name=op.f("uq_guide_customer_tags_customer_id_tag")
        ),
    )
    with op.batch_alter_table("guide_customer_tags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guide_customer_tags_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "guide_messages",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column(
            "conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sender", sa.String(length=10), nullable=False),
        sa.Column("staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
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
            "sender IN ('customer', 'guide', 'system')", name=op.f("ck_guide_messages_sender_known")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["guide_conversations.id"],
            name=op.f("fk_guide_messages_conversation_id_guide_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_guide_messages_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_guide_messages_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guide_messages")),
        sa.UniqueConstraint("public_id", name=op.f("uq_guide_messages_public_id")),
    )
    with op.batch_alter_table("guide_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_guide_messages_conversation", ["conversation_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_guide_messages_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "guide_holds",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("hold_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "guide_staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_fen", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
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
        sa.CheckConstraint("quantity > 0", name=op.f("ck_guide_holds_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_guide_holds_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["guide_staff_id"], ["staff.id"], name=op.f("fk_guide_holds_guide_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["stock_holds.id"], name=op.f("fk_guide_holds_hold_id_stock_holds")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_guide_holds_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_guide_holds_order_id_orders")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_guide_holds_sku_id_skus")),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_guide_holds_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guide_holds")),
        sa.UniqueConstraint("public_id", name=op.f("uq_guide_holds_public_id")),
    )
    with op.batch_alter_table("guide_holds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_guide_holds_guide", ["merchant_id", "guide_staff_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_guide_holds_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "guide_fittings",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "guide_staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "guide_hold_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("starts_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("slot_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reminded_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_guide_fittings_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["guide_hold_id"],
            ["guide_holds.id"],
            name=op.f("fk_guide_fittings_guide_hold_id_guide_holds"),
        ),
        sa.ForeignKeyConstraint(
            ["guide_staff_id"], ["staff.id"], name=op.f("fk_guide_fittings_guide_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_guide_fittings_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_guide_fittings_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_guide_fittings_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guide_fittings")),
        sa.UniqueConstraint(
            "merchant_id",
            "guide_staff_id",
            "slot_at",
            name=op.f("uq_guide_fittings_merchant_id_guide_staff_id_slot_at"),
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_guide_fittings_public_id")),
    )
    with op.batch_alter_table("guide_fittings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_guide_fittings_due", ["status", "reminded_at", "starts_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_guide_fittings_merchant_id"), ["merchant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("guide_fittings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guide_fittings_merchant_id"))
        batch_op.drop_index("ix_guide_fittings_due")

    op.drop_table("guide_fittings")
    with op.batch_alter_table("guide_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guide_holds_merchant_id"))
        batch_op.drop_index("ix_guide_holds_guide")

    op.drop_table("guide_holds")
    with op.batch_alter_table("guide_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guide_messages_merchant_id"))
        batch_op.drop_index("ix_guide_messages_conversation")

    op.drop_table("guide_messages")
    with op.batch_alter_table("guide_customer_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guide_customer_tags_merchant_id"))

    op.drop_table("guide_customer_tags")
    with op.batch_alter_table("guide_conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guide_conversations_merchant_id"))
        batch_op.drop_index("ix_guide_conversations_guide")
        batch_op.drop_index("ix_guide_conversations_customer")

    op.drop_table("guide_conversations")
    with op.batch_alter_table("guide_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guide_settings_merchant_id"))

    op.drop_table("guide_settings")
