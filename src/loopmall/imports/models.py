"""Import history: one row per finished import, accepted or rejected, for the console."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, BigId, IdMixin, UtcDateTime
from loopmall.core.tenancy import TenantMixin


class ImportJob(TenantMixin, IdMixin, Base):
    """A finished bulk import of stores or staff.

    ``errors`` keeps every bad row as ``{row, field, column, code, params}``; the reason is
    rendered in the reader's language when shown. ``problem`` is set when the import failed
    for a reason that is not a bad row (the database went away…).
    """

    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_merchant_kind", "merchant_id", "kind", "id"),)

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # stores|staff
    source: Mapped[str] = mapped_column(String(16))  # api|page|cli
    filename: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16))  # succeeded|rejected|failed
    rows: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    problem: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), nullable=True
    )
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime)
