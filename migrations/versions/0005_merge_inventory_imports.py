"""Join the inventory (0003) and imports (0004) branches, which were written side by side.

Revision ID: 0005
Revises: 0003, 0004
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | Sequence[str] | None = ("0003", "0004")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: both branches' tables are independent."""


def downgrade() -> None:
    """Nothing to change."""
