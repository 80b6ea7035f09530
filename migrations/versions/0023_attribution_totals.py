"""attribution: running totals of the ledger (per scope, day, role, rule), backfilled; the
ledger's pages read by index (merchant's, one store's, one guide's credits, newest first)

``repository.ledger`` counted every credit of the merchant for its per-role totals on each
view (bench chainscale, 1 M credits: 1.0 s, an external merge sort). ``attribution_totals``
is kept by ``ledger.credit_orders`` in the same transaction as the credits; this revision
fills it from the credits already written. Days are Asia/Shanghai days (no DST since 1991:
SQLite's ``+8 hours`` is the same day as PostgreSQL's time zone).

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# (scope, its id, which credits, the id's GROUP BY term: none for the constant, which
# SQLite would read as a column position).
SCOPES = (("'all'", "0", "1 = 1", ""),
          ("'store'", "store_id", "store_id IS NOT NULL", "store_id, "),
          ("'guide'", "guide_staff_id", "guide_staff_id IS NOT NULL", "guide_staff_id, "))  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "attribution_totals",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("scope_id", ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", ID, nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.CheckConstraint(
            "scope IN ('all', 'store', 'guide')", name=op.f("ck_attribution_totals_scope_known")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_attribution_totals_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribution_totals")),
        sa.UniqueConstraint(
            "merchant_id",
            "scope",
            "scope_id",
            "day",
            "role",
            "rule",
            name=op.f("uq_attribution_totals_merchant_id_scope_scope_id_day_role_rule"),
        ),
    )
    op.create_index(
        op.f("ix_attribution_totals_merchant_id"), "attribution_totals", ["merchant_id"]
    )
    for name, columns in (
        ("ix_attribution_credits_newest", ["merchant_id", "id"]),
        ("ix_attribution_credits_store_newest", ["merchant_id", "store_id", "id"]),
        ("ix_attribution_credits_guide_newest", ["merchant_id", "guide_staff_id", "id"]),
    ):
        op.create_index(name, "attribution_credits", columns)
    if op.get_bind().dialect.name == "sqlite":
        day = "date(at, '+8 hours')"
    else:
        day = "CAST((at AT TIME ZONE 'Asia/Shanghai') AS DATE)"
    for scope, scope_id, present, grouped in SCOPES:
        # Only the constants above are interpolated.
        sql = (
            "INSERT INTO attribution_totals "  # noqa: S608
            "(merchant_id, scope, scope_id, day, role, rule, credits, amount_fen) "
            f"SELECT merchant_id, {scope}, {scope_id}, {day}, role, rule, "
            "COUNT(*), COALESCE(SUM(amount_fen), 0) "
            f"FROM attribution_credits WHERE {present} "
            f"GROUP BY merchant_id, {grouped}{day}, role, rule"
        )
        op.execute(sql)


def downgrade() -> None:
    for name in (
        "ix_attribution_credits_guide_newest",
        "ix_attribution_credits_store_newest",
        "ix_attribution_credits_newest",
    ):
        op.drop_index(name, table_name="attribution_credits")
    op.drop_index(op.f("ix_attribution_totals_merchant_id"), table_name="attribution_totals")
    op.drop_table("attribution_totals")
