"""payments: one active payment code per store and per guide (partial unique indexes)

Store codes were not protected by ``uq(merchant_id, store_id, guide_staff_id)`` (their
guide is NULL, and NULLs never collide), so two first views of a store could each make a
code. Any such twin is switched off (the oldest code stays), then the indexes refuse more.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STORE = "guide_staff_id IS NULL AND active"
GUIDE = "guide_staff_id IS NOT NULL AND active"


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE payment_codes SET active = :off WHERE active AND guide_staff_id IS NULL "
            "AND id > (SELECT MIN(o.id) FROM payment_codes o "
            "WHERE o.merchant_id = payment_codes.merchant_id "
            "AND o.store_id = payment_codes.store_id AND o.guide_staff_id IS NULL AND o.active)"
        ).bindparams(off=False)
    )
    op.execute(
        sa.text(
            "UPDATE payment_codes SET active = :off WHERE active AND guide_staff_id IS NOT NULL "
            "AND id > (SELECT MIN(o.id) FROM payment_codes o "
            "WHERE o.merchant_id = payment_codes.merchant_id "
            "AND o.guide_staff_id = payment_codes.guide_staff_id AND o.active)"
        ).bindparams(off=False)
    )
    op.create_index(
        "ux_payment_codes_store",
        "payment_codes",
        ["merchant_id", "store_id"],
        unique=True,
        sqlite_where=sa.text(STORE),
        postgresql_where=sa.text(STORE),
    )
    op.create_index(
        "ux_payment_codes_guide",
        "payment_codes",
        ["merchant_id", "guide_staff_id"],
        unique=True,
        sqlite_where=sa.text(GUIDE),
        postgresql_where=sa.text(GUIDE),
    )


def downgrade() -> None:
    op.drop_index("ux_payment_codes_guide", table_name="payment_codes")
    op.drop_index("ux_payment_codes_store", table_name="payment_codes")
