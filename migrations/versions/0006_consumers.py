"""consumers: consumers and their WeChat ids (global), customers, WeChat apps, consumer
sessions, SMS codes and OAuth states (per merchant)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 12:10:22.325561
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import loopmall.core.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consumers",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("avatar_url", sa.String(length=500), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumers")),
        sa.UniqueConstraint("phone", name=op.f("uq_consumers_phone")),
        sa.UniqueConstraint("public_id", name=op.f("uq_consumers_public_id")),
    )
    op.create_table(
        "consumer_oauth_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("appid", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("next_url", sa.String(length=500), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
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
            name=op.f("fk_consumer_oauth_states_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumer_oauth_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_consumer_oauth_states_state_hash")),
    )
    with op.batch_alter_table("consumer_oauth_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consumer_oauth_states_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "consumer_sms_codes",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
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
            name=op.f("fk_consumer_sms_codes_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumer_sms_codes")),
    )
    with op.batch_alter_table("consumer_sms_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consumer_sms_codes_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            "ix_consumer_sms_codes_phone", ["merchant_id", "phone", "created_at"], unique=False
        )

    op.create_table(
        "consumer_wechat_ids",
        sa.Column(
            "consumer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["consumers.id"],
            name=op.f("fk_consumer_wechat_ids_consumer_id_consumers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumer_wechat_ids")),
        sa.UniqueConstraint(
            "kind", "namespace", "value", name=op.f("uq_consumer_wechat_ids_kind_namespace_value")
        ),
    )
    with op.batch_alter_table("consumer_wechat_ids", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consumer_wechat_ids_consumer_id"), ["consumer_id"], unique=False
        )

    op.create_table(
        "customers",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column(
            "consumer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("avatar_url", sa.String(length=500), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("appid", sa.String(length=64), nullable=True),
        sa.Column("openid", sa.String(length=128), nullable=True),
        sa.Column("unionid", sa.String(length=128), nullable=True),
        sa.Column("followed", sa.Boolean(), nullable=False),
        sa.Column("followed_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("follow_invited_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("first_paid_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
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
            ["consumer_id"],
            ["consumers.id"],
            name=op.f("fk_customers_consumer_id_consumers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_customers_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint(
            "merchant_id", "consumer_id", name=op.f("uq_customers_merchant_id_consumer_id")
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_customers_public_id")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_consumer_id"), ["consumer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index(
            "ix_customers_merchant_openid", ["merchant_id", "openid"], unique=False
        )

    op.create_table(
        "wechat_apps",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("appid", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("open_platform_id", sa.String(length=64), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
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
            name=op.f("fk_wechat_apps_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_apps")),
        sa.UniqueConstraint("appid", name=op.f("uq_wechat_apps_appid")),
        sa.UniqueConstraint("public_id", name=op.f("uq_wechat_apps_public_id")),
    )
    with op.batch_alter_table("wechat_apps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_wechat_apps_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "consumer_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column(
            "consumer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", loopmall.core.db.UtcDateTime(timezone=True), nullable=True),
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
            ["consumer_id"],
            ["consumers.id"],
            name=op.f("fk_consumer_sessions_consumer_id_consumers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_consumer_sessions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_consumer_sessions_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumer_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_consumer_sessions_token_hash")),
    )
    with op.batch_alter_table("consumer_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consumer_sessions_consumer_id"), ["consumer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consumer_sessions_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consumer_sessions_merchant_id"), ["merchant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("consumer_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consumer_sessions_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_consumer_sessions_customer_id"))
        batch_op.drop_index(batch_op.f("ix_consumer_sessions_consumer_id"))

    op.drop_table("consumer_sessions")
    with op.batch_alter_table("wechat_apps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wechat_apps_merchant_id"))

    op.drop_table("wechat_apps")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_merchant_openid")
        batch_op.drop_index(batch_op.f("ix_customers_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_customers_consumer_id"))

    op.drop_table("customers")
    with op.batch_alter_table("consumer_wechat_ids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consumer_wechat_ids_consumer_id"))

    op.drop_table("consumer_wechat_ids")
    with op.batch_alter_table("consumer_sms_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_consumer_sms_codes_phone")
        batch_op.drop_index(batch_op.f("ix_consumer_sms_codes_merchant_id"))

    op.drop_table("consumer_sms_codes")
    with op.batch_alter_table("consumer_oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consumer_oauth_states_merchant_id"))

    op.drop_table("consumer_oauth_states")
    op.drop_table("consumers")
