"""Join the notifications (0007) and orders/payments (0008, 0009) branches, which were
written side by side from the consumers revision (0006).

Revision ID: 0010
Revises: 0007, 0009
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0010"
down_revision: str | Sequence[str] | None = ("0007", "0009")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: both branches' tables are independent."""


def downgrade() -> None:
    """Nothing to change."""
