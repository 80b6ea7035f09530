"""store sales: the guide's discount on the order line (who gave it, who approved it) and
the merchant's cap on what a guide may give alone

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Nothing references order_lines or mall_settings, so SQLite's batch copy of them
    # cascades nowhere.
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("discount_fen", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("discount_approval", sa.String(16), server_default="none", nullable=False)
        )
        batch_op.add_column(sa.Column("discount_by_staff_id", BIG_ID, nullable=True))
        batch_op.add_column(sa.Column("discount_approved_by_staff_id", BIG_ID, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_order_lines_discount_by_staff_id_staff"),
            "staff",
            ["discount_by_staff_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            op.f("fk_order_lines_discount_approved_by_staff_id_staff"),
            "staff",
            ["discount_approved_by_staff_id"],
            ["id"],
        )
        batch_op.create_check_constraint(
            op.f("ck_order_lines_discount_not_negative"), "discount_fen >= 0"
        )
        batch_op.create_check_constraint(
            op.f("ck_order_lines_discount_approval_known"),
            "discount_approval IN ('none', 'within_cap', 'pending', 'approved')",
        )
    with op.batch_alter_table("mall_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("guide_discount_cap_bp", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_mall_settings_guide_discount_cap_range"),
            "guide_discount_cap_bp >= 0 AND guide_discount_cap_bp <= 10000",
        )


def downgrade() -> None:
    with op.batch_alter_table("mall_settings", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_mall_settings_guide_discount_cap_range"), type_="check")
        batch_op.drop_column("guide_discount_cap_bp")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_order_lines_discount_approval_known"), type_="check")
        batch_op.drop_constraint(op.f("ck_order_lines_discount_not_negative"), type_="check")
        batch_op.drop_constraint(
            op.f("fk_order_lines_discount_approved_by_staff_id_staff"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            op.f("fk_order_lines_discount_by_staff_id_staff"), type_="foreignkey"
        )
        batch_op.drop_column("discount_approved_by_staff_id")
        batch_op.drop_column("discount_by_staff_id")
        batch_op.drop_column("discount_approval")
        batch_op.drop_column("discount_fen")
