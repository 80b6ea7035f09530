"""Request and response models of bulk imports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from loopmall.imports.formats import ImportKind


class RowErrorOut(BaseModel):
    row: int = Field(..., description="Row number as Excel shows it (the header is row 1)")
    column: str = Field(..., description="The column as the file names it")
    field: str = Field(..., description="The column's stable name (code, phone, …)")
    code: str = Field(..., description="Stable code of the rule the row breaks")
    reason: str = Field(..., description="What is wrong, in the caller's language")


class ImportSummaryOut(BaseModel):
    id: str = Field(..., description="The import's id in the history")
    kind: ImportKind
    rows: int
    created: int
    updated: int


class ImportJobOut(BaseModel):
    id: str
    kind: ImportKind
    source: str = Field(..., description="api | page | cli")
    filename: str
    status: str = Field(..., description="queued | running | succeeded | rejected | failed")
    phase: str = Field(..., description="queued | validating | writing | done")
    rows: int = Field(..., description="Data rows in the file")
    processed: int = Field(..., description="Units done in the current phase")
    total: int = Field(..., description="Units in the current phase")
    created: int | None = None
    updated: int | None = None
    error_count: int
    errors: list[RowErrorOut]
    problem: dict[str, Any] | None = Field(
        None, description="Set when the import failed for a reason other than bad rows"
    )
    started_at: datetime
    finished_at: datetime | None = None


class ImportJobItem(BaseModel):
    id: str
    kind: ImportKind
    source: str
    filename: str
    status: str
    rows: int
    created: int
    updated: int
    error_count: int
    started_at: datetime
    finished_at: datetime
