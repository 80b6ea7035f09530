"""attribution: the running totals also keep each QR channel's and each share's orders and
GMV (scopes ``channel`` and ``share``), backfilled

``repository.totals_by_channel`` / ``totals_by_share`` (the QR funnels, the share chains)
grouped every credit of the channels and shares on a page by order, so a busy channel's
figures cost a read of all its credits. An order counts once per channel or share however
many of its credits name it, with the amount it was credited (the same on each credit).

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "ck_attribution_totals_scope_known"


def _scopes(scopes: str) -> None:
    with op.batch_alter_table("attribution_totals") as batch:
        batch.drop_constraint(op.f(CHECK), type_="check")
        batch.create_check_constraint(op.f(CHECK), f"scope IN ({scopes})")


def upgrade() -> None:
    _scopes("'all', 'store', 'guide', 'channel', 'share'")
    if op.get_bind().dialect.name == "sqlite":
        day = "date(at, '+8 hours')"
    else:
        day = "CAST((at AT TIME ZONE 'Asia/Shanghai') AS DATE)"
    for scope, column in (("channel", "channel_id"), ("share", "share_id")):
        # Only the constants above are interpolated.
        sql = (
            "INSERT INTO attribution_totals "  # noqa: S608
            "(merchant_id, scope, scope_id, day, role, rule, credits, amount_fen) "
            f"SELECT merchant_id, '{scope}', {column}, {day}, '', '', COUNT(*), SUM(fen) "
            f"FROM (SELECT merchant_id, {column}, MIN(at) AS at, MAX(amount_fen) AS fen "
            f"FROM attribution_credits WHERE {column} IS NOT NULL "
            f"GROUP BY merchant_id, {column}, order_id) AS per_order "
            f"GROUP BY merchant_id, {column}, {day}"
        )
        op.execute(sql)


def downgrade() -> None:
    op.execute("DELETE FROM attribution_totals WHERE scope IN ('channel', 'share')")
    _scopes("'all', 'store', 'guide'")
