"""Console pages for bulk imports: upload, live progress, the per-row error report, history.

The page uploads through the JSON job API (``POST /api/v1/imports/jobs``) and polls the
job with ``lmFetch``; this module renders the page, the CSV templates and the error report.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from loopmall.core.http import get_state, read_uow
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.imports import service
from loopmall.imports.formats import COLUMNS, ImportKind, template_csv
from loopmall.imports.jobs import board
from loopmall.imports.report import errors_csv
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter()

CSV_TYPE = "text/csv; charset=utf-8"


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _page_strings(kind: ImportKind, locale: str) -> dict[str, Any]:
    """Messages the page's script shows, already in the reader's language."""
    _ = translator(locale)
    return {
        "uploading": _("Uploading and reading the file…"),
        "phases": {
            "queued": _("Waiting to start…"),
            "validating": _("Checking rows"),
            "writing": _("Writing"),
            "done": _("Done"),
        },
        "rejected": _(
            "Nothing was imported: %(count)s problem(s) in %(rows)s row(s). "
            "Fix them and upload the file again."
        ),
        "succeeded": _("Imported %(rows)s row(s): %(created)s new, %(updated)s updated."),
        "failed": _("The import failed on our side and nothing was written; try again."),
        "nothing": _("Nothing was imported."),
        "shown": _("Showing the first %(shown)s of %(count)s problems."),
        "download_errors": _("Download the error report (CSV)"),
        "row": _("Row"),
        "column": _("Column"),
        "reason": _("Reason"),
        "back": _("Back to the store list")
        if kind is ImportKind.STORES
        else _("Back to the staff list"),
        "problems": {
            "malformed_file": _("This is not a CSV or XLSX table we can read."),
            "empty_file": _("The file has no rows to import."),
            "missing_columns": _("Required columns are missing: %(columns)s"),
            "duplicate_columns": _("Two columns of the file mean the same thing: %(columns)s"),
            "payload_too_large": _("The file is too large."),
            "too_many_rows": _("The file has too many rows; split it."),
            "csrf_failed": _("The page expired; reload it and try again."),
        },
        "labels": {c.field: c.label(locale) for c in COLUMNS[kind]},
    }


async def _import_page(
    request: Request, kind: ImportKind, principal: Principal, uow: UnitOfWork
) -> Response:
    locale = pick_locale(request)
    _ = translator(locale)
    jobs = await service.recent_jobs(uow.session, principal.require_tenant(), kind)
    stores = kind is ImportKind.STORES
    return render(
        request,
        "imports/import.html",
        {
            "kind": kind.value,
            "title": _("Import stores") if stores else _("Import staff"),
            "list_url": "/console/stores" if stores else "/console/staff",
            "list_label": _("Stores") if stores else _("Staff"),
            "template_url": f"/console/{kind.value}/import/template.csv",
            "columns": COLUMNS[kind],
            "jobs": jobs,
            "strings": _page_strings(kind, locale),
        },
    )


@router.get("/console/stores/import")
async def stores_import_page(
    request: Request,
    principal: Principal = Depends(require(Perm.IMPORTS_RUN)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    return await _import_page(request, ImportKind.STORES, principal, uow)


@router.get("/console/staff/import")
async def staff_import_page(
    request: Request,
    principal: Principal = Depends(require(Perm.IMPORTS_RUN)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    return await _import_page(request, ImportKind.STAFF, principal, uow)


@router.get("/console/stores/import/template.csv")
async def stores_template(_p: Principal = Depends(require(Perm.IMPORTS_RUN))) -> Response:
    return Response(
        template_csv(ImportKind.STORES),
        media_type=CSV_TYPE,
        headers=_attachment("stores-template.csv"),
    )


@router.get("/console/staff/import/template.csv")
async def staff_template(_p: Principal = Depends(require(Perm.IMPORTS_RUN))) -> Response:
    return Response(
        template_csv(ImportKind.STAFF),
        media_type=CSV_TYPE,
        headers=_attachment("staff-template.csv"),
    )


@router.get("/console/imports/{job_id}/errors.csv")
async def import_errors_csv(
    request: Request,
    job_id: str = Path(..., max_length=64),
    principal: Principal = Depends(require(Perm.IMPORTS_RUN)),
) -> Response:
    job = await board(get_state(request)).get(principal.require_tenant(), job_id)
    body = errors_csv(ImportKind(job.kind), job.errors, pick_locale(request))
    return Response(body, media_type=CSV_TYPE, headers=_attachment(f"import-errors-{job.id}.csv"))
