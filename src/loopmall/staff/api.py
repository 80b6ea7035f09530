"""JSON routes for a merchant's staff: add, list, look at, change (role, stores, password)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.errors import ValidationFailed
from loopmall.core.http import read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import Page
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.staff import directory
from loopmall.staff import service as staff_service
from loopmall.staff.models import Staff
from loopmall.staff.schemas import StaffIn, StaffOut, StaffPatch, StoreRef

router = APIRouter(tags=["staff"])

PUBLIC_ID = Path(..., min_length=1, max_length=40, description="Staff public id")
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Not allowed (owner_required: only owners handle owners/managers)"},
    404: {"description": "No such staff member (or not one you can see)"},
    422: {"description": "Bad input (invalid_phone, weak_password, unknown_store, …)"},
}


async def staff_out(
    session: AsyncSession, principal: Principal, people: Sequence[Staff]
) -> list[StaffOut]:
    tenant = principal.require_tenant()
    stores = await directory.stores_of(
        session, tenant, [p.id for p in people], visible=principal.store_ids
    )
    return [
        StaffOut(
            id=p.public_id,
            phone=p.phone,
            name=p.name,
            role=p.role,
            employee_no=p.employee_no,
            active=p.active,
            has_password=p.password_hash is not None,
            stores=[StoreRef(id=s.public_id, code=s.code, name=s.name) for s in stores[p.id]],
            created_at=p.created_at,
            updated_at=p.updated_at,
        )
        for p in people
    ]


@router.post(
    "/staff",
    response_model=StaffOut,
    status_code=201,
    responses=ERRORS | {409: {"description": "phone_taken"}},
)
async def create_staff(
    body: StaffIn,
    request: Request,
    principal: Principal = Depends(require(Perm.STAFF_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Add a staff member (supports ``Idempotency-Key``)."""
    tenant = principal.require_tenant()

    async def work() -> StaffOut:
        person = await staff_service.create_staff(
            uow.session,
            tenant,
            phone=body.phone,
            name=body.name,
            role=body.role,
            password=body.password,
            stores=body.stores,
            employee_no=body.employee_no,
            acting_role=principal.role,
        )
        return (await staff_out(uow.session, principal, [person]))[0]

    return await run_idempotent(request, uow, principal.scope, work)


@router.get("/staff", response_model=Page[StaffOut], responses=ERRORS)
async def list_staff(
    store: str | None = Query(None, max_length=40, description="Store public id"),
    role: str | None = Query(None, max_length=20),
    q: str | None = Query(None, max_length=100, description="Text in the name, phone or number"),
    active: bool | None = Query(None),
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
    principal: Principal = Depends(require(Perm.STAFF_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[StaffOut]:
    """The merchant's staff; a store manager sees the people of their own stores only."""
    rows, next_cursor = await directory.list_staff(
        uow.session,
        principal.require_tenant(),
        store=store,
        role=role,
        q=q,
        active=active,
        visible=principal.store_ids,
        cursor=cursor,
        limit=limit,
    )
    return Page[StaffOut](
        items=await staff_out(uow.session, principal, rows), next_cursor=next_cursor
    )


@router.get("/staff/{public_id}", response_model=StaffOut, responses=ERRORS)
async def get_staff(
    public_id: str = PUBLIC_ID,
    principal: Principal = Depends(require(Perm.STAFF_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> StaffOut:
    """One staff member."""
    person = await directory.get_staff(
        uow.session, principal.require_tenant(), public_id, visible=principal.store_ids
    )
    return (await staff_out(uow.session, principal, [person]))[0]


@router.patch(
    "/staff/{public_id}",
    response_model=StaffOut,
    responses=ERRORS | {409: {"description": "phone_taken, last_owner"}},
)
async def update_staff(
    body: StaffPatch,
    public_id: str = PUBLIC_ID,
    principal: Principal = Depends(require(Perm.STAFF_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> StaffOut:
    """Change a staff member: name, phone, role, stores, active, password, number."""
    changes = body.model_dump(exclude_unset=True)
    nulls = sorted(k for k, v in changes.items() if v is None)
    if nulls:
        raise ValidationFailed(f"{nulls[0]} cannot be null", field=nulls[0])
    person = await staff_service.update_staff(
        uow.session,
        principal.require_tenant(),
        public_id,
        changes,
        acting_role=principal.role,
        keep_session_id=principal.session_id,
    )
    out = (await staff_out(uow.session, principal, [person]))[0]
    await uow.commit()
    return out
