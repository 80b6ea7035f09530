"""Join the six branches written side by side from 0010 for issues #4 and #5: QR channels
(0011), attribution (0012), sharing (0013), rebates (0014), the guide workbench (0015) and
flash sales (0016).

Revision ID: 0017
Revises: 0011, 0012, 0013, 0014, 0015, 0016
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0017"
down_revision: str | Sequence[str] | None = ("0011", "0012", "0013", "0014", "0015", "0016")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the branches' tables refer only to tables older than 0010."""


def downgrade() -> None:
    """Nothing to change."""
