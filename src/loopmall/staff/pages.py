"""Console pages for staff: the list with filters, adding someone, changing someone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import FormData

from loopmall.core.errors import LoopmallError
from loopmall.core.http import read_uow, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import current_principal, require
from loopmall.identity.permissions import Perm, Role
from loopmall.identity.principal import Principal
from loopmall.merchants.store_picker import StoreChoice, store_choices
from loopmall.merchants.stores import count_stores
from loopmall.staff import directory
from loopmall.staff import service as staff_service
from loopmall.staff.models import Staff
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter()

# Matches only public ids, so /console/staff/import (bulk imports) is left to its own page.
STAFF_PATH = "/console/staff/{public_id:staff_id}"
PAGE_SIZE = 50


def error_messages(locale: str) -> dict[str, str]:
    """What to tell a person for each problem code or field, in their language."""
    _ = translator(locale)
    return {
        "invalid_phone": _("Enter an 11-digit mobile number, like 13800138000."),
        "phone_taken": _("Someone on your staff already has this phone number."),
        "weak_password": _("The password needs at least 8 characters."),
        "invalid_role": _("Choose a role."),
        "store_required": _("Store managers, guides and cashiers work in at least one store."),
        "unknown_store": _("One of the chosen stores does not exist any more."),
        "owner_required": _("Only an owner may add, change or promote owners and managers."),
        "last_owner": _("This is the last active owner: add another owner first."),
        "name": _("Enter a name of at most 50 characters."),
        "employee_no": _("The employee number takes at most 40 characters."),
    }


def explain(exc: LoopmallError, locale: str) -> tuple[str, str]:
    """(field, message) for an error raised by the staff service."""
    messages = error_messages(locale)
    field = str(exc.extra.get("field", ""))
    if exc.code in messages:
        return field or "form", messages[exc.code]
    return field or "form", messages.get(field, exc.detail)


class StaffIdConvertor(Convertor[str]):
    regex = "stf_[0-9a-z]{16}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("staff_id", StaffIdConvertor())


async def _store_choices(
    uow: UnitOfWork, principal: Principal, q: str | None, chosen: list[str]
) -> list[StoreChoice]:
    """The store picker's options: the chosen stores and the first few matching ``q``
    (not every store of the chain: 1,800 of them made these pages take 2-3 s, issue #11)."""
    tenant = principal.require_tenant()
    return await store_choices(uow.session, tenant, principal.store_ids, q=q, chosen=chosen)


def _may_edit(principal: Principal, person: Staff | None) -> bool:
    if not principal.can(Perm.STAFF_WRITE):
        return False
    if person is None or principal.role is Role.OWNER:
        return True
    return Role(person.role) not in staff_service.MANAGING_ROLES


def _roles_for(principal: Principal) -> list[str]:
    """The roles this person may hand out: owners any, managers the store roles."""
    if principal.role is Role.OWNER:
        return [r.value for r in Role]
    return [Role.STORE_MANAGER.value, Role.GUIDE.value, Role.CASHIER.value]


@router.get("/console/staff")
async def staff_list(
    request: Request,
    store: str | None = Query(None, max_length=40),
    role: str | None = Query(None, max_length=20),
    q: str | None = Query(None, max_length=100),
    store_q: str | None = Query(None, max_length=100),
    cursor: str | None = Query(None, max_length=200),
    principal: Principal = Depends(require(Perm.STAFF_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    tenant = principal.require_tenant()
    people, next_cursor = await directory.list_staff(
        uow.session,
        tenant,
        store=store or None,
        role=role or None,
        q=q,
        visible=principal.store_ids,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    stores = await directory.stores_of(
        uow.session, tenant, [p.id for p in people], visible=principal.store_ids
    )
    return render(
        request,
        "staff/list.html",
        {
            "people": people,
            "stores_of": stores,
            "store_choices": await _store_choices(uow, principal, store_q, [store or ""]),
            "roles": [r.value for r in Role],
            "filters": {"store": store or "", "role": role or "", "q": q or ""},
            "store_q": store_q or "",
            "next_cursor": next_cursor,
            "can_write": principal.can(Perm.STAFF_WRITE),
            "can_import": principal.can(Perm.IMPORTS_RUN),
        },
    )


async def _form_page(
    request: Request,
    uow: UnitOfWork,
    principal: Principal,
    *,
    person: Staff | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    flash: str = "",
) -> Response:
    store_q = request.query_params.get("store_q", "")[:100]
    return render(
        request,
        "staff/form.html",
        {
            "person": person,
            "values": values,
            "errors": errors or {},
            "store_choices": await _store_choices(uow, principal, store_q, values["stores"]),
            "store_q": store_q,
            "roles": _roles_for(principal),
            "editable": _may_edit(principal, person),
            "flash": flash,
        },
        status_code=status_code,
    )


def _values_of(person: Staff, store_ids: list[str]) -> dict[str, Any]:
    return {
        "phone": person.phone,
        "name": person.name,
        "role": person.role,
        "employee_no": person.employee_no,
        "active": person.active,
        "stores": store_ids,
    }


def _submitted(form: FormData) -> dict[str, Any]:
    return {
        "phone": str(form.get("phone", "")),
        "name": str(form.get("name", "")),
        "role": str(form.get("role", "")),
        "employee_no": str(form.get("employee_no", "")),
        "active": form.get("active") == "on",
        "stores": [str(s) for s in form.getlist("stores")],
        "password": str(form.get("password", "")),
    }


@router.get("/console/staff/new")
async def new_staff_form(
    request: Request,
    principal: Principal = Depends(require(Perm.STAFF_WRITE)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    values = {"role": Role.GUIDE.value, "active": True, "stores": []}
    return await _form_page(request, uow, principal, person=None, values=values)


@router.post("/console/staff/new")
async def new_staff_submit(
    request: Request,
    principal: Principal = Depends(require(Perm.STAFF_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    values = _submitted(await request.form())
    try:
        person = await staff_service.create_staff(
            uow.session,
            principal.require_tenant(),
            phone=values["phone"],
            name=values["name"],
            role=values["role"],
            password=values["password"] or None,
            stores=values["stores"],
            employee_no=values["employee_no"],
            acting_role=principal.role,
        )
    except LoopmallError as exc:
        await uow.rollback()
        field, message = explain(exc, pick_locale(request))
        return await _form_page(
            request,
            uow,
            principal,
            person=None,
            values=values,
            errors={field: message},
            status_code=exc.status,
        )
    await uow.commit()
    return RedirectResponse(f"/console/staff/{person.public_id}?saved=1", status_code=303)


@router.get(STAFF_PATH)
async def edit_staff_form(
    request: Request,
    public_id: str,
    principal: Principal = Depends(require(Perm.STAFF_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    tenant = principal.require_tenant()
    person = await directory.get_staff(uow.session, tenant, public_id, visible=principal.store_ids)
    stores = await directory.stores_of(uow.session, tenant, [person.id])
    _ = translator(pick_locale(request))
    flash = _("Saved.") if request.query_params.get("saved") else ""
    values = _values_of(person, [s.public_id for s in stores[person.id]])
    return await _form_page(request, uow, principal, person=person, values=values, flash=flash)


@router.post(STAFF_PATH)
async def edit_staff_submit(
    request: Request,
    public_id: str,
    principal: Principal = Depends(require(Perm.STAFF_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    person = await directory.get_staff(uow.session, tenant, public_id)
    values = _submitted(await request.form())
    changes = {k: v for k, v in values.items() if k != "password"}
    if values["password"]:
        changes["password"] = values["password"]
    try:
        person = await staff_service.update_staff(
            uow.session,
            tenant,
            public_id,
            changes,
            acting_role=principal.role,
            keep_session_id=principal.session_id,
        )
    except LoopmallError as exc:
        await uow.rollback()
        field, message = explain(exc, pick_locale(request))
        person = await directory.get_staff(uow.session, tenant, public_id)
        return await _form_page(
            request,
            uow,
            principal,
            person=person,
            values=values,
            errors={field: message},
            status_code=exc.status,
        )
    await uow.commit()
    return RedirectResponse(f"/console/staff/{person.public_id}?saved=1", status_code=303)


@router.get("/console")
async def overview(
    request: Request,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    if principal.tenant is None:  # a platform operator: their console is /platform
        return RedirectResponse("/platform", status_code=303)
    visible = principal.store_ids
    counts = {
        "stores": await count_stores(uow.session, principal.tenant, visible=visible),
        "staff": await directory.count_staff(uow.session, principal.tenant, visible=visible),
    }
    return render(request, "staff/overview.html", {"counts": counts})
