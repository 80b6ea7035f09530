"""JSON routes for holds: place, list, read, release, consume, extend."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from loopmall.core.http import read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import Page
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.inventory import locations, records, repository, service
from loopmall.inventory.api_common import (
    READ_PROBLEMS,
    WRITE_PROBLEMS,
    Cursor,
    HoldId,
    Limit,
    LocationFilter,
    SkuFilter,
    hold_out,
    list_filters,
    visible_hold,
)
from loopmall.inventory.rules import HoldStatus
from loopmall.inventory.schemas import HoldCreate, HoldExtend, HoldOut

router = APIRouter(tags=["inventory"])


@router.post("/holds", status_code=201, response_model=HoldOut, responses=WRITE_PROBLEMS)
async def create_hold(
    body: HoldCreate,
    request: Request,
    principal: Principal = Depends(require(Perm.INVENTORY_HOLD)),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Hold units for a customer or an unpaid order until the ttl runs out; they come back
    by themselves then. More than available → 409 `insufficient_stock`. Idempotent with
    `Idempotency-Key`."""
    tenant = principal.require_tenant()

    async def work() -> HoldOut:
        sku_id = await repository.sku_id_for(uow.session, tenant, body.sku)
        loc = await locations.resolve_location(
            uow.session, tenant, body.location, create=True, store_ids=principal.store_ids
        )
        assert loc is not None
        hold = await service.place_hold(
            uow.session,
            tenant,
            sku_id=sku_id,
            location_id=loc.id,
            quantity=body.quantity,
            ttl=timedelta(seconds=body.ttl_seconds),
            reason=body.reason,
            reference=body.reference,
            actor=principal.public_id,
        )
        return hold_out(await records.find_hold(uow.session, tenant, hold.public_id))

    return await run_idempotent(request, uow, principal.scope, work, status_code=201)


@router.get("/holds", response_model=Page[HoldOut], responses=READ_PROBLEMS)
async def list_holds(
    status: HoldStatus | None = Query(None, description="As in effect: expired → lapsed"),
    sku: str | None = SkuFilter,
    location: str | None = LocationFilter,
    reference: PlainText | None = Query(None, max_length=100),
    cursor: str | None = Cursor,
    limit: int = Limit,
    principal: Principal = Depends(require(Perm.INVENTORY_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[HoldOut]:
    """Holds, oldest first, by cursor."""
    sku_ids, location_ids = await list_filters(uow, principal, sku, location)
    rows, next_cursor = await records.list_holds(
        uow.session,
        principal.require_tenant(),
        status=status,
        sku_ids=sku_ids,
        location_ids=location_ids,
        reference=reference,
        cursor=cursor,
        limit=limit,
    )
    return Page[HoldOut](items=[hold_out(r) for r in rows], next_cursor=next_cursor)


@router.get("/holds/{hold_id}", response_model=HoldOut, responses=READ_PROBLEMS)
async def get_hold(
    hold_id: str = HoldId,
    principal: Principal = Depends(require(Perm.INVENTORY_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> HoldOut:
    """One hold."""
    return hold_out(await visible_hold(uow, principal, hold_id))


async def _end(
    request: Request,
    uow: UnitOfWork,
    principal: Principal,
    hold_id: str,
    action: str,
    ttl: timedelta | None = None,
) -> JSONResponse:
    tenant = principal.require_tenant()

    async def work() -> HoldOut:
        row = await visible_hold(uow, principal, hold_id)
        if action == "release":
            await service.release_hold(uow.session, tenant, row.id, actor=principal.public_id)
        elif action == "consume":
            await service.consume_hold(uow.session, tenant, row.id, actor=principal.public_id)
        else:
            assert ttl is not None
            await service.extend_hold(
                uow.session, tenant, row.id, ttl=ttl, actor=principal.public_id
            )
        return hold_out(await records.find_hold(uow.session, tenant, hold_id))

    return await run_idempotent(request, uow, principal.scope, work, status_code=200)


@router.post("/holds/{hold_id}/release", response_model=HoldOut, responses=WRITE_PROBLEMS)
async def release_hold(
    request: Request,
    hold_id: str = HoldId,
    principal: Principal = Depends(require(Perm.INVENTORY_HOLD)),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Give the held units back. 409 `illegal_transition` unless the hold is active."""
    return await _end(request, uow, principal, hold_id, "release")


@router.post("/holds/{hold_id}/consume", response_model=HoldOut, responses=WRITE_PROBLEMS)
async def consume_hold(
    request: Request,
    hold_id: str = HoldId,
    principal: Principal = Depends(require(Perm.INVENTORY_HOLD)),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """The held units were sold: on hand and held both drop. 409 `illegal_transition`
    unless the hold is active (an expired hold has lapsed)."""
    return await _end(request, uow, principal, hold_id, "consume")


@router.post("/holds/{hold_id}/extend", response_model=HoldOut, responses=WRITE_PROBLEMS)
async def extend_hold(
    body: HoldExtend,
    request: Request,
    hold_id: str = HoldId,
    principal: Principal = Depends(require(Perm.INVENTORY_HOLD)),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Make an active hold end `ttl_seconds` from now. 409 `illegal_transition` unless
    the hold is active."""
    return await _end(
        request, uow, principal, hold_id, "extend", timedelta(seconds=body.ttl_seconds)
    )
