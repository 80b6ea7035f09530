"""notifications: WeChat templates per order step, subscribe consents, outgoing messages,
the in-app inbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:19:23.527374
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import loopmall.core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_templates",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("template_id", sa.String(length=128), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
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
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_notification_templates_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_templates")),
        sa.UniqueConstraint(
            "merchant_id",
            "topic",
            "channel",
            name=op.f("uq_notification_templates_merchant_id_topic_channel"),
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_notification_templates_public_id")),
    )
    with op.batch_alter_table("notification_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_templates_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "inbox_messages",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("read_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
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
            name=op.f("fk_inbox_messages_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_inbox_messages_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_messages")),
        sa.UniqueConstraint(
            "customer_id", "event_id", name=op.f("uq_inbox_messages_customer_id_event_id")
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_inbox_messages_public_id")),
    )
    with op.batch_alter_table("inbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_messages_customer", ["merchant_id", "customer_id", "read_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inbox_messages_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "notifications",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("template_id", sa.String(length=128), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("provider_msg_id", sa.String(length=64), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
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
            name=op.f("fk_notifications_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_notifications_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "event_id",
            "customer_id",
            "channel",
            name=op.f("uq_notifications_event_id_customer_id_channel"),
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_notifications_public_id")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_customer", ["merchant_id", "customer_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "subscribe_consents",
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("template_id", sa.String(length=128), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("long_term", sa.Boolean(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_subscribe_consents_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_subscribe_consents_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribe_consents")),
        sa.UniqueConstraint(
            "customer_id", "template_id", name=op.f("uq_subscribe_consents_customer_id_template_id")
        ),
    )
    with op.batch_alter_table("subscribe_consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscribe_consents_merchant_id"), ["merchant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subscribe_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscribe_consents_merchant_id"))

    op.drop_table("subscribe_consents")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_merchant_id"))
        batch_op.drop_index("ix_notifications_customer")

    op.drop_table("notifications")
    with op.batch_alter_table("inbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_messages_merchant_id"))
        batch_op.drop_index("ix_inbox_messages_customer")

    op.drop_table("inbox_messages")
    with op.batch_alter_table("notification_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_templates_merchant_id"))

    op.drop_table("notification_templates")
