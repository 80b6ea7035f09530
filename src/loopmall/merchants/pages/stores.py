"""Console pages for stores: the list with search and filters, a new store, editing one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import FormData

from loopmall.core.errors import LoopmallError, ValidationFailed
from loopmall.core.http import read_uow, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.merchants import hours, stores
from loopmall.merchants.models import Store
from loopmall.merchants.staffing import merchant_staff
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter()
PAGE_SIZE = 50
TEXT_FIELDS = ("code", "name", "city", "district", "address", "phone", "note")


class StoreIdConvertor(Convertor[str]):
    """Only store public ids, so ``/console/stores/import`` stays the import page's."""

    regex = "st_[0-9a-z]{16}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("store_id", StoreIdConvertor())
STORE_PATH = "/console/stores/{public_id:store_id}"


def error_messages(locale: str) -> dict[str, str]:
    _ = translator(locale)
    return {
        "store_code_taken": _("Another store already has this code."),
        "invalid_opening_hours": _(
            "Write opening hours like 10:00-22:00, or mon-fri 10:00-22:00; sat,sun 09:00-23:00."
        ),
        "code": _("Enter a code without spaces (at most 40 characters)."),
        "name": _("Enter the store's name (at most 100 characters)."),
        "city": _("At most 50 characters."),
        "district": _("At most 50 characters."),
        "address": _("At most 255 characters."),
        "phone": _("Enter a phone number, like 021-6288 0000."),
        "latitude": _("Latitude is a number from -90 to 90, given together with the longitude."),
        "longitude": _("Longitude is a number from -180 to 180, given together with the latitude."),
        "note": _("At most 2000 characters."),
    }


def _values_of(store: Store) -> dict[str, Any]:
    values: dict[str, Any] = {f: getattr(store, f) for f in TEXT_FIELDS}
    values["latitude"] = "" if store.latitude is None else repr(store.latitude)
    values["longitude"] = "" if store.longitude is None else repr(store.longitude)
    values["opening_hours"] = hours.describe(store.opening_hours)
    values["pickup_enabled"] = store.pickup_enabled
    values["status"] = store.status
    return values


def _submitted(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {f: str(form.get(f, "")) for f in TEXT_FIELDS}
    for f in ("latitude", "longitude", "opening_hours", "status"):
        values[f] = str(form.get(f, "")).strip()
    values["pickup_enabled"] = form.get("pickup_enabled") == "on"
    return values


def _number(values: dict[str, Any], field: str) -> float | None:
    text = values[field]
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValidationFailed(f"{field} must be a number", field=field) from None


def _changes(values: dict[str, Any], *, with_status: bool) -> dict[str, Any]:
    changes = {f: values[f] for f in TEXT_FIELDS}
    changes["latitude"] = _number(values, "latitude")
    changes["longitude"] = _number(values, "longitude")
    changes["opening_hours"] = values["opening_hours"]
    changes["pickup_enabled"] = values["pickup_enabled"]
    if with_status:
        changes["status"] = values["status"]
    return changes


def _explain(exc: LoopmallError, locale: str) -> dict[str, str]:
    messages = error_messages(locale)
    field = str(exc.extra.get("field", "form"))
    return {field: messages.get(exc.code) or messages.get(field) or exc.detail}


@router.get("/console/stores")
async def stores_list(
    request: Request,
    q: str | None = Query(None, max_length=100),
    city: str | None = Query(None, max_length=50),
    status: str | None = Query(None, pattern="^(open|closed|)$"),
    cursor: str | None = Query(None, max_length=200),
    principal: Principal = Depends(require(Perm.STORES_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    tenant = principal.require_tenant()
    rows, next_cursor = await stores.list_stores(
        uow.session,
        tenant,
        q=q,
        city=city or None,
        status=status or None,
        visible=principal.store_ids,
        cursor=cursor,
        limit=PAGE_SIZE,
        newest_first=True,  # the store just created is the one looked for
    )
    counts = await merchant_staff().counts_by_store(uow.session, tenant, [s.id for s in rows])
    return render(
        request,
        "merchants/stores.html",
        {
            "stores": rows,
            "staff_counts": counts,
            "hours_text": {s.id: hours.describe(s.opening_hours) for s in rows},
            "cities": await stores.cities(uow.session, tenant, visible=principal.store_ids),
            "filters": {"q": q or "", "city": city or "", "status": status or ""},
            "next_cursor": next_cursor,
            "can_write": principal.can(Perm.STORES_WRITE),
            "can_import": principal.can(Perm.IMPORTS_RUN),
        },
    )


def _form(
    request: Request,
    *,
    store: Store | None,
    values: dict[str, Any],
    can_write: bool,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    flash: str = "",
) -> Response:
    return render(
        request,
        "merchants/store_form.html",
        {
            "store": store,
            "values": values,
            "errors": errors or {},
            "can_write": can_write,
            "flash": flash,
        },
        status_code=status_code,
    )


@router.get("/console/stores/new")
async def new_store_form(
    request: Request, principal: Principal = Depends(require(Perm.STORES_WRITE))
) -> Response:
    values = {"pickup_enabled": True, "status": "open"}
    return _form(request, store=None, values=values, can_write=True)


@router.post("/console/stores/new")
async def new_store_submit(
    request: Request,
    principal: Principal = Depends(require(Perm.STORES_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    values = _submitted(await request.form())
    try:
        store = await stores.create_store(
            uow.session, principal.require_tenant(), **_changes(values, with_status=False)
        )
    except LoopmallError as exc:
        await uow.rollback()
        errors = _explain(exc, pick_locale(request))
        return _form(
            request,
            store=None,
            values=values,
            can_write=True,
            errors=errors,
            status_code=exc.status,
        )
    await uow.commit()
    return RedirectResponse(f"/console/stores/{store.public_id}?saved=1", status_code=303)


@router.get(STORE_PATH)
async def edit_store_form(
    request: Request,
    public_id: str,
    principal: Principal = Depends(require(Perm.STORES_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    store = await stores.get_store(
        uow.session, principal.require_tenant(), public_id, visible=principal.store_ids
    )
    _ = translator(pick_locale(request))
    flash = _("Saved.") if request.query_params.get("saved") else ""
    return _form(
        request,
        store=store,
        values=_values_of(store),
        can_write=principal.can(Perm.STORES_WRITE),
        flash=flash,
    )


@router.post(STORE_PATH)
async def edit_store_submit(
    request: Request,
    public_id: str,
    principal: Principal = Depends(require(Perm.STORES_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    store = await stores.get_store(uow.session, tenant, public_id)
    values = _submitted(await request.form())
    try:
        store = await stores.update_store(
            uow.session, tenant, public_id, _changes(values, with_status=True)
        )
    except LoopmallError as exc:
        await uow.rollback()
        store = await stores.get_store(uow.session, tenant, public_id)
        errors = _explain(exc, pick_locale(request))
        return _form(
            request,
            store=store,
            values=values,
            can_write=True,
            errors=errors,
            status_code=exc.status,
        )
    await uow.commit()
    return RedirectResponse(f"/console/stores/{store.public_id}?saved=1", status_code=303)
