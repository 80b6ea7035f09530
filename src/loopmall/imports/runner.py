"""One import at the edge: its unit of work and its line in the history.

The API, the CLI and the background jobs all run an import the same way: the rows go
into the caller's unit of work together with a ``succeeded`` history record (the caller
commits both at once); when rows are bad, everything is rolled back and a ``rejected``
record with every bad row is committed on its own, so the history shows refused files too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from loopmall.core import clock
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.imports import service
from loopmall.imports.formats import Table
from loopmall.imports.service import Actor, ImportRejected, ImportSummary, JobOutcome, Reporter


@dataclass
class Run:
    """Who runs which file, under which id in the history."""

    tenant: Tenant
    actor: Actor
    filename: str
    job_id: str = field(default_factory=service.new_job_id)
    started_at: datetime = field(default_factory=clock.now)

    async def record(self, uow: UnitOfWork, outcome: JobOutcome) -> None:
        await service.record_job(
            uow.session,
            self.tenant,
            public_id=self.job_id,
            outcome=outcome,
            actor=self.actor,
            filename=self.filename,
            started_at=self.started_at,
        )


async def import_recorded(
    uow: UnitOfWork, run: Run, table: Table, *, report: Reporter | None = None
) -> ImportSummary:
    """Import ``table`` in ``uow`` and add its success to the history; the caller commits.

    On bad rows: rolls ``uow`` back, commits the ``rejected`` record and re-raises
    ``ImportRejected`` (422) — nothing of the file is written.
    """
    try:
        summary = await service.run_import(uow.session, run.tenant, table, run.actor, report=report)
    except ImportRejected as exc:
        await uow.rollback()
        await run.record(uow, JobOutcome(table.kind, "rejected", exc.rows, errors=exc.issues))
        await uow.commit()
        raise
    outcome = JobOutcome(table.kind, "succeeded", summary.rows, summary.created, summary.updated)
    await run.record(uow, outcome)
    return summary
