"""Bulk imports of stores and staff: check every row, then write all of them or none.

``run_import`` is the whole rule of C2's import: every row is checked first and every bad
row is collected (row, column, reason); if there is one, ``ImportRejected`` is raised and
nothing is written; otherwise the rows are upserted by key (store code, staff phone) in
the caller's transaction. Re-importing a file updates what the first import created.

Progress is reported through an awaited callback ``report(phase, done, total)`` with phase
``validating`` or ``writing``; the CLI draws it with Rich and the console through a job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.pagination import paginate_by_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.imports.formats import ImportKind, Table
from loopmall.imports.models import ImportJob
from loopmall.merchants import bulk as store_bulk
from loopmall.merchants.bulk import RowIssue
from loopmall.staff import bulk as staff_bulk

Reporter = Callable[[str, int, int], Awaitable[None]]

# Rows checked between progress reports (and between yields to the event loop, so that an
# import running inside the app does not stall other requests).
CHECK_CHUNK = 1000

# Rules about the file's shape rather than a domain's data.
FILE_REASONS: dict[str, str] = {
    "extra_cells": "This row has more cells than the header has columns",
}

REASONS: dict[ImportKind, dict[str, str]] = {
    ImportKind.STORES: {**store_bulk.REASONS, **FILE_REASONS},
    ImportKind.STAFF: {**staff_bulk.REASONS, **FILE_REASONS},
}


@dataclass(frozen=True)
class ImportSummary:
    kind: ImportKind
    rows: int
    created: int
    updated: int


class ImportRejected(ValidationFailed):
    """Some rows are bad, so nothing was written. ``issues`` holds every one of them."""

    code = "import_rejected"
    title = "Nothing was imported: some rows are not valid"

    def __init__(self, kind: ImportKind, rows: int, issues: list[dict[str, Any]]) -> None:
        super().__init__(
            f"{len(issues)} problem(s) in {rows} row(s); fix them and import the file again"
        )
        self.kind = kind
        self.rows = rows
        self.issues = issues


@dataclass
class Actor:
    """Who runs an import: a staff member (and whether they may touch owners) or the CLI."""

    source: str  # api | page | cli
    staff_id: int | None = None
    may_import_owners: bool = True


def issue_record(kind: ImportKind, table: Table, issue: RowIssue) -> dict[str, Any]:
    """A bad row as stored and reported: row, field, the file's column name, code, params."""
    return {
        "row": issue.row,
        "field": issue.field,
        "column": table.headers.get(issue.field, ""),
        "code": issue.code,
        "params": dict(issue.params),
    }


async def _noop(_phase: str, _done: int, _total: int) -> None:
    return None


async def _check(
    session: AsyncSession,
    tenant: Tenant,
    table: Table,
    actor: Actor,
    report: Reporter,
) -> tuple[Any, Sequence[Any], list[RowIssue]]:
    context: staff_bulk.StaffImportContext | None = None
    checker: store_bulk.StoreRowChecker | staff_bulk.StaffRowChecker
    if table.kind is ImportKind.STORES:
        checker = store_bulk.StoreRowChecker(table.fields)
    else:
        context = await staff_bulk.load_staff_context(session, tenant)
        checker = staff_bulk.StaffRowChecker(
            table.fields, context, may_import_owners=actor.may_import_owners
        )
    total = len(table.rows)
    await report("validating", 0, total)
    for start in range(0, total, CHECK_CHUNK):
        for number, values in table.rows[start : start + CHECK_CHUNK]:
            checker.check(number, values)
        await report("validating", min(start + CHECK_CHUNK, total), total)
        await asyncio.sleep(0)
    checker.finish()
    issues = [RowIssue(n, "", "extra_cells") for n in table.overflow_rows] + checker.issues
    return context, checker.records, issues


async def run_import(
    session: AsyncSession,
    tenant: Tenant,
    table: Table,
    actor: Actor,
    *,
    report: Reporter | None = None,
) -> ImportSummary:
    """Check every row of ``table``, then upsert all rows for ``tenant`` in ``session``.

    Raises ``ImportRejected`` (422) with every bad row, sorted by row, before writing
    anything. Never commits: the caller's unit of work holds the whole file or nothing.
    """
    report = report or _noop
    context, records, issues = await _check(session, tenant, table, actor, report)
    if issues:
        issues.sort(key=lambda i: (i.row, i.field))
        raise ImportRejected(
            table.kind, len(table.rows), [issue_record(table.kind, table, i) for i in issues]
        )

    async def on_progress(done: int, total: int) -> None:
        await report("writing", done, total)

    await report("writing", 0, len(records))
    if table.kind is ImportKind.STORES:
        counts = await store_bulk.upsert_stores(
            session, tenant, records, table.fields, on_progress=on_progress
        )
    else:
        assert context is not None
        counts = await staff_bulk.upsert_staff(
            session, tenant, records, table.fields, context, on_progress=on_progress
        )
    return ImportSummary(table.kind, len(table.rows), counts.created, counts.updated)


@dataclass
class JobOutcome:
    """What is kept of an import once it is over."""

    kind: ImportKind
    status: str  # succeeded | rejected | failed
    rows: int
    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    problem: dict[str, Any] | None = None


async def record_job(
    session: AsyncSession,
    tenant: Tenant,
    *,
    public_id: str,
    outcome: JobOutcome,
    actor: Actor,
    filename: str,
    started_at: datetime,
) -> ImportJob:
    """Add the finished import to the merchant's import history (flushes, never commits)."""
    job = ImportJob(
        merchant_id=tenant.id,
        public_id=public_id,
        kind=outcome.kind.value,
        source=actor.source,
        filename=filename[:255],
        status=outcome.status,
        rows=outcome.rows,
        created_count=outcome.created,
        updated_count=outcome.updated,
        error_count=len(outcome.errors),
        errors=outcome.errors,
        problem=outcome.problem,
        staff_id=actor.staff_id,
        started_at=started_at,
        finished_at=clock.now(),
    )
    session.add(job)
    await session.flush()
    return job


def new_job_id() -> str:
    return new_public_id("imp")


async def get_job(session: AsyncSession, tenant: Tenant, public_id: str) -> ImportJob:
    """The merchant's finished import with this id. Raises ``NotFound`` (another merchant's too)."""
    job = await session.scalar(scoped(ImportJob, tenant, ImportJob.public_id == public_id))
    if job is None:
        raise NotFound("No such import")
    return job


async def list_jobs(
    session: AsyncSession,
    tenant: Tenant,
    *,
    kind: ImportKind | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[ImportJob], str | None]:
    """The merchant's past imports in the order they finished, by cursor."""
    stmt = scoped(ImportJob, tenant)
    if kind is not None:
        stmt = stmt.where(ImportJob.kind == kind.value)
    return await paginate_by_id(session, stmt, ImportJob.id, cursor=cursor, limit=limit)


async def recent_jobs(
    session: AsyncSession, tenant: Tenant, kind: ImportKind, limit: int = 10
) -> list[ImportJob]:
    """The merchant's latest imports of ``kind``, newest first (for the console page)."""
    rows = await session.scalars(
        scoped(ImportJob, tenant, ImportJob.kind == kind.value)
        .order_by(ImportJob.id.desc())
        .limit(limit)
    )
    return list(rows.all())
