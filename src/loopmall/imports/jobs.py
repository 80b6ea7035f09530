"""Imports as background jobs with progress, for the console's progress bar.

The console uploads a file, gets a job id at once and polls the job. The job runs as an
asyncio task in the app process that received the file. Its progress lives in that
process's memory (``state.extras``) and, when Redis is configured, in Redis too, so any
app process behind the proxy can answer the poll. When the job ends its outcome goes to
the ``import_jobs`` table, which stays the record once memory and Redis have forgotten.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.imports import service
from loopmall.imports.formats import Table
from loopmall.imports.models import ImportJob
from loopmall.imports.runner import Run, import_recorded
from loopmall.imports.service import Actor, ImportRejected, JobOutcome

log = logging.getLogger(__name__)

FINISHED = frozenset({"succeeded", "rejected", "failed"})
REDIS_TTL_SECONDS = 24 * 3600
# Finished jobs kept in memory; older ones are read back from Redis or the table.
MEMORY_KEEP = 200
EXTRAS_KEY = "imports.jobs"
FAILED_PROBLEM = {
    "code": "import_failed",
    "detail": "The import failed on our side and nothing was written; try again.",
}


@dataclass
class JobView:
    """Where an import job is: status, phase, rows done of the phase, and its outcome."""

    id: str
    merchant_id: int
    kind: str
    source: str
    filename: str
    status: str  # queued | running | succeeded | rejected | failed
    phase: str  # queued | validating | writing | done
    rows: int
    processed: int = 0
    total: int = 0
    created: int | None = None
    updated: int | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    problem: dict[str, Any] | None = None
    started_at: str = ""
    finished_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def from_record(cls, job: ImportJob) -> JobView:
        ok = job.status == "succeeded"
        return cls(
            id=job.public_id,
            merchant_id=job.merchant_id,
            kind=job.kind,
            source=job.source,
            filename=job.filename,
            status=job.status,
            phase="done",
            rows=job.rows,
            processed=job.rows,
            total=job.rows,
            created=job.created_count if ok else None,
            updated=job.updated_count if ok else None,
            errors=list(job.errors or []),
            problem=job.problem,
            started_at=job.started_at.isoformat(),
            finished_at=job.finished_at.isoformat(),
        )


class JobBoard:
    """The import jobs of one app process, and the shared view of everyone's through Redis."""

    def __init__(self, state: AppState) -> None:
        self._state = state
        self._jobs: dict[str, JobView] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _key(self, job_id: str) -> str:
        return f"{self._state.settings.redis_prefix}imports:job:{job_id}"

    async def _publish(self, job: JobView) -> None:
        self._jobs[job.id] = job
        redis = self._state.redis
        if redis is None:
            return
        try:
            await redis.set(self._key(job.id), json.dumps(asdict(job)), ex=REDIS_TTL_SECONDS)
        except Exception as exc:  # progress is best effort; the table keeps the outcome
            log.warning("could not publish import job %s to Redis: %s", job.id, exc)

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.finished]
        for job in finished[: max(0, len(finished) - MEMORY_KEEP)]:
            del self._jobs[job.id]

    async def get(self, tenant: Tenant, job_id: str) -> JobView:
        """The job as this process or Redis or the history table knows it.

        Raises ``NotFound`` for an unknown id and for another merchant's job.
        """
        job = self._jobs.get(job_id)
        if job is None and self._state.redis is not None:
            try:
                raw = await self._state.redis.get(self._key(job_id))
            except Exception as exc:
                log.warning("could not read import job %s from Redis: %s", job_id, exc)
                raw = None
            if raw:
                job = JobView(**json.loads(raw))
        if job is None:
            async with UnitOfWork(self._state.read_factory) as uow:
                record = await service.get_job(uow.session, tenant, job_id)
                job = JobView.from_record(record)
        if job.merchant_id != tenant.id:
            raise NotFound("No such import")
        return job

    async def start(self, tenant: Tenant, table: Table, actor: Actor, filename: str) -> JobView:
        """Queue the import of ``table`` and return its job; it runs as a task in this loop."""
        job = JobView(
            id=service.new_job_id(),
            merchant_id=tenant.id,
            kind=table.kind.value,
            source=actor.source,
            filename=filename,
            status="queued",
            phase="queued",
            rows=len(table.rows),
            total=len(table.rows),
            started_at=clock.now().isoformat(),
        )
        await self._publish(job)
        task = asyncio.create_task(self._run(job, tenant, table, actor), name=f"import-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def join(self) -> None:
        """Wait until every job this process runs has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self, job: JobView, tenant: Tenant, table: Table, actor: Actor) -> None:
        run = Run(tenant, actor, job.filename, job_id=job.id)
        job.status = "running"

        async def report(phase: str, done: int, total: int) -> None:
            job.phase, job.processed, job.total = phase, done, total
            await self._publish(job)

        outcome: JobOutcome
        try:
            async with UnitOfWork(self._state.write_factory) as uow:
                try:
                    summary = await import_recorded(uow, run, table, report=report)
                except ImportRejected as exc:
                    outcome = JobOutcome(table.kind, "rejected", exc.rows, errors=exc.issues)
                else:
                    await uow.commit()
                    outcome = JobOutcome(
                        table.kind, "succeeded", summary.rows, summary.created, summary.updated
                    )
        except Exception:
            log.exception("import job %s failed", job.id)
            outcome = JobOutcome(table.kind, "failed", len(table.rows), problem=FAILED_PROBLEM)
            try:
                async with UnitOfWork(self._state.write_factory) as uow:
                    await run.record(uow, outcome)
                    await uow.commit()
            except Exception:  # the database is what failed; memory and Redis still tell
                log.exception("could not record failed import job %s", job.id)
        job.status, job.phase = outcome.status, "done"
        job.errors, job.problem = outcome.errors, outcome.problem
        if outcome.status == "succeeded":
            job.created, job.updated = outcome.created, outcome.updated
            job.processed = job.total
        job.finished_at = clock.now().isoformat()
        await self._publish(job)
        self._forget_old()


def board(state: AppState) -> JobBoard:
    """This app process's job board (created on first use)."""
    found = state.extras.get(EXTRAS_KEY)
    if found is None:
        found = state.extras[EXTRAS_KEY] = JobBoard(state)
    assert isinstance(found, JobBoard)
    return found
