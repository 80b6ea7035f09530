"""JSON routes for stores: open one, list, look at, change, close (``status: closed``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.http import read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import Page
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.merchants import hours, stores
from loopmall.merchants.models import Store
from loopmall.merchants.schemas import StoreIn, StoreOut, StorePatch
from loopmall.merchants.staffing import merchant_staff

router = APIRouter(tags=["stores"])

PUBLIC_ID = Path(..., min_length=1, max_length=40, description="Store public id")
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Not allowed"},
    404: {"description": "No such store (or not one of yours)"},
    422: {"description": "Bad input"},
}


def store_out(store: Store, staff_count: int) -> StoreOut:
    return StoreOut(
        id=store.public_id,
        code=store.code,
        name=store.name,
        city=store.city,
        district=store.district,
        address=store.address,
        phone=store.phone,
        latitude=store.latitude,
        longitude=store.longitude,
        opening_hours=store.opening_hours,
        opening_hours_text=hours.describe(store.opening_hours),
        pickup_enabled=store.pickup_enabled,
        status=store.status,
        note=store.note,
        staff_count=staff_count,
        created_at=store.created_at,
        updated_at=store.updated_at,
    )


async def stores_out(
    session: AsyncSession, tenant: Tenant, rows: Sequence[Store]
) -> list[StoreOut]:
    counts = await merchant_staff().counts_by_store(session, tenant, [s.id for s in rows])
    return [store_out(s, counts.get(s.id, 0)) for s in rows]


@router.post(
    "/stores",
    response_model=StoreOut,
    status_code=201,
    responses=ERRORS | {409: {"description": "store_code_taken"}},
)
async def create_store(
    body: StoreIn,
    request: Request,
    principal: Principal = Depends(require(Perm.STORES_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Open a store (supports ``Idempotency-Key``). Opening hours as a mapping or text."""
    tenant = principal.require_tenant()

    async def work() -> StoreOut:
        store = await stores.create_store(uow.session, tenant, **body.model_dump())
        return store_out(store, 0)

    return await run_idempotent(request, uow, principal.scope, work)


@router.get("/stores", response_model=Page[StoreOut], responses=ERRORS)
async def list_stores(
    q: str | None = Query(None, max_length=100, description="Text in the code, name or address"),
    city: str | None = Query(None, max_length=50),
    status: str | None = Query(None, pattern="^(open|closed)$"),
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
    principal: Principal = Depends(require(Perm.STORES_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[StoreOut]:
    """The merchant's stores (a store role sees only its own), oldest first."""
    tenant = principal.require_tenant()
    rows, next_cursor = await stores.list_stores(
        uow.session,
        tenant,
        q=q,
        city=city,
        status=status,
        visible=principal.store_ids,
        cursor=cursor,
        limit=limit,
    )
    items = await stores_out(uow.session, tenant, rows)
    return Page[StoreOut](items=items, next_cursor=next_cursor)


@router.get("/stores/{public_id}", response_model=StoreOut, responses=ERRORS)
async def get_store(
    public_id: str = PUBLIC_ID,
    principal: Principal = Depends(require(Perm.STORES_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> StoreOut:
    """One store."""
    tenant = principal.require_tenant()
    store = await stores.get_store(uow.session, tenant, public_id, visible=principal.store_ids)
    return (await stores_out(uow.session, tenant, [store]))[0]


@router.patch(
    "/stores/{public_id}",
    response_model=StoreOut,
    responses=ERRORS | {409: {"description": "store_code_taken"}},
)
async def update_store(
    body: StorePatch,
    public_id: str = PUBLIC_ID,
    principal: Principal = Depends(require(Perm.STORES_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> StoreOut:
    """Change some of a store's fields; ``{"status": "closed"}`` closes it (no deletes)."""
    tenant = principal.require_tenant()
    store = await stores.update_store(
        uow.session, tenant, public_id, body.model_dump(exclude_unset=True)
    )
    out = (await stores_out(uow.session, tenant, [store]))[0]
    await uow.commit()
    return out
