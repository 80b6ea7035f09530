"""Bulk imports over the API: now (201 or 422 with every bad row) or as a job with progress.

The file comes as ``multipart/form-data`` field ``file``. The routes read the form
themselves instead of declaring an ``UploadFile`` parameter: FastAPI would consume the
request stream for it before the dependencies run, and ``Idempotency-Key`` needs the raw
body to fingerprint the request. ``buffered_body`` reads it first (refusing oversized
uploads by their Content-Length before reading a byte).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.datastructures import UploadFile

from loopmall.core.errors import PayloadTooLarge, ValidationFailed
from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import MAX_LIMIT, Page
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm, Role
from loopmall.identity.principal import Principal
from loopmall.imports import service
from loopmall.imports.formats import ImportKind, Table, read_table
from loopmall.imports.jobs import JobView, board
from loopmall.imports.report import render_errors
from loopmall.imports.runner import Run, import_recorded
from loopmall.imports.schemas import ImportJobItem, ImportJobOut, ImportSummaryOut, RowErrorOut
from loopmall.imports.service import Actor, ImportRejected
from loopmall.imports.sheets import check_size
from loopmall.web.i18n import pick_locale

# The "/jobs" routes are declared before "/{kind}", which would otherwise match them.
router = APIRouter(prefix="/imports", tags=["imports"])

# Room for the multipart envelope around the file itself.
MULTIPART_SLACK = 64 * 1024

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV (UTF-8, UTF-8 with BOM, GBK) or XLSX",
                        }
                    },
                }
            }
        },
    }
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


FILE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: _problem("The caller may not run imports"),
    413: _problem("`payload_too_large` or `too_many_rows`"),
    422: _problem(
        "`import_rejected` (with `errors: [{row, column, field, code, reason}]`; nothing was "
        "written), `malformed_file`, `empty_file`, `missing_columns`, `duplicate_columns`"
    ),
}


async def buffered_body(request: Request) -> None:
    """Read the request body up front (see the module docstring); 413 when too large."""
    limit = get_state(request).settings.import_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit():
        check_size(max(0, int(declared) - MULTIPART_SLACK), limit)
    body = await request.body()
    check_size(max(0, len(body) - MULTIPART_SLACK), limit)


async def read_upload(request: Request, kind: ImportKind) -> tuple[str, Table]:
    """The uploaded file's name and its rows as an import of ``kind`` (parsed in a thread)."""
    limit = get_state(request).settings.import_max_bytes
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ValidationFailed(
            "Send the file as the multipart/form-data field 'file'", field="file"
        )
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The file is over {limit:,} bytes", max_bytes=limit)
    table = await asyncio.to_thread(read_table, data, kind, max_bytes=limit)
    return (upload.filename or "")[:255], table


def actor_for(principal: Principal) -> Actor:
    return Actor(
        source="page" if principal.via == "cookie" else "api",
        staff_id=principal.staff_id,
        may_import_owners=principal.role is Role.OWNER,
    )


def job_out(job: JobView, locale: str) -> ImportJobOut:
    kind = ImportKind(job.kind)
    return ImportJobOut(
        id=job.id,
        kind=kind,
        source=job.source,
        filename=job.filename,
        status=job.status,
        phase=job.phase,
        rows=job.rows,
        processed=job.processed,
        total=job.total,
        created=job.created,
        updated=job.updated,
        error_count=len(job.errors),
        errors=[RowErrorOut(**e) for e in render_errors(kind, job.errors, locale)],
        problem=job.problem,
        started_at=datetime.fromisoformat(job.started_at),
        finished_at=datetime.fromisoformat(job.finished_at) if job.finished_at else None,
    )


@router.post(
    "/jobs",
    status_code=202,
    response_model=ImportJobOut,
    responses=FILE_PROBLEMS,
    openapi_extra=UPLOAD_BODY,
)
async def start_import_job(
    request: Request,
    kind: ImportKind = Query(..., description="What the file holds"),
    _body: None = Depends(buffered_body),
    principal: Principal = Depends(require(Perm.IMPORTS_RUN)),
    uow: UnitOfWork = Depends(write_uow),
) -> Any:
    """Start an import in the background; poll ``GET /imports/jobs/{id}`` for progress.

    The file is read before answering (a malformed file is refused here); checking and
    writing the rows happen in the job.
    """
    tenant = principal.require_tenant()
    filename, table = await read_upload(request, kind)
    state = get_state(request)
    locale = pick_locale(request)

    async def work() -> ImportJobOut:
        job = await board(state).start(tenant, table, actor_for(principal), filename)
        return job_out(job, locale)

    return await run_idempotent(request, uow, principal.scope, work, status_code=202)


@router.get(
    "/jobs/{job_id}",
    response_model=ImportJobOut,
    responses={404: _problem("No such import for this merchant")},
)
async def get_import_job(
    request: Request,
    job_id: str = Path(..., max_length=64),
    principal: Principal = Depends(require(Perm.IMPORTS_RUN)),
) -> ImportJobOut:
    """An import's status, phase and progress; when rejected, every bad row."""
    job = await board(get_state(request)).get(principal.require_tenant(), job_id)
    return job_out(job, pick_locale(request))


@router.get("/jobs", response_model=Page[ImportJobItem])
async def list_import_jobs(
    kind: ImportKind | None = Query(None),
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(20, ge=1, le=MAX_LIMIT),
    principal: Principal = Depends(require(Perm.IMPORTS_RUN)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[ImportJobItem]:
    """The merchant's finished imports, oldest first, by cursor."""
    jobs, next_cursor = await service.list_jobs(
        uow.session, principal.require_tenant(), kind=kind, cursor=cursor, limit=limit
    )
    return Page[ImportJobItem](
        items=[
            ImportJobItem(
                id=j.public_id,
                kind=ImportKind(j.kind),
                source=j.source,
                filename=j.filename,
                status=j.status,
                rows=j.rows,
                created=j.created_count,
                updated=j.updated_count,
                error_count=j.error_count,
                started_at=j.started_at,
                finished_at=j.finished_at,
            )
            for j in jobs
        ],
        next_cursor=next_cursor,
    )


@router.post(
    "/{kind}",
    status_code=201,
    response_model=ImportSummaryOut,
    responses=FILE_PROBLEMS,
    openapi_extra=UPLOAD_BODY,
)
async def import_now(
    request: Request,
    kind: ImportKind = Path(..., description="What the file holds"),
    _body: None = Depends(buffered_body),
    principal: Principal = Depends(require(Perm.IMPORTS_RUN)),
    uow: UnitOfWork = Depends(write_uow),
) -> Any:
    """Import stores (upsert by store code) or staff (upsert by phone, with their stores)
    at once: every row, or — if any row is bad — none, with every bad row in the 422."""
    filename, table = await read_upload(request, kind)
    run = Run(principal.require_tenant(), actor_for(principal), filename)

    async def work() -> ImportSummaryOut:
        summary = await import_recorded(uow, run, table)
        return ImportSummaryOut(
            id=run.job_id,
            kind=kind,
            rows=summary.rows,
            created=summary.created,
            updated=summary.updated,
        )

    try:
        return await run_idempotent(request, uow, principal.scope, work, status_code=201)
    except ImportRejected as exc:
        exc.extra.update(
            import_id=run.job_id,
            error_count=len(exc.issues),
            errors=render_errors(kind, exc.issues, pick_locale(request)),
        )
        raise
