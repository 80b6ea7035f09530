"""JSON routes of inventory: locations, stock levels, adjustments, holds and the ledger.

Store roles (store manager, guide, cashier) see and touch only their stores' locations:
anything else answers 404, as if it did not exist.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from loopmall.core import clock
from loopmall.core.errors import Forbidden, NotFound
from loopmall.core.http import read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import MAX_LIMIT, Page
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.inventory import locations, repository, service
from loopmall.inventory.locations import LocationInfo
from loopmall.inventory.repository import HoldRow, LevelRow, MovementRow
from loopmall.inventory.rules import HoldStatus, MovementKind
from loopmall.inventory.schemas import (
    HoldCreate,
    HoldExtend,
    HoldOut,
    LocationCreate,
    LocationOut,
    MovementOut,
    StockAdjust,
    StockCount,
    StockLevelOut,
    StockOut,
)

router = APIRouter(tags=["inventory"])


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


READ_PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: _problem("The caller's role may not read stock"),
    404: _problem("No such SKU, location, store or hold for this merchant"),
}
WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **READ_PROBLEMS,
    409: _problem(
        "`insufficient_stock` (with `available`, `requested`), `below_held`, "
        "`illegal_transition` (with `current`, `target`), `location_code_taken`"
    ),
    422: _problem(
        "`validation_failed`, `hold_ttl_out_of_range`, `stock_limit_exceeded`, "
        "`idempotency_key_reused`"
    ),
}

Limit = Query(50, ge=1, le=MAX_LIMIT)
Cursor = Query(None, max_length=200)
SkuFilter = Query(None, max_length=40, description="A SKU id (`sku_…`)")
LocationFilter = Query(
    None,
    max_length=40,
    description="A location id (`loc_…`), a store id (`st_…`) or `online`",
)
HoldId = Path(..., max_length=40)


def _location_out(info: LocationInfo) -> LocationOut:
    loc = info.location
    return LocationOut(
        id=loc.public_id,
        kind=loc.kind,  # type: ignore[arg-type]
        code=info.display_code,
        name=info.display_name,
        is_default=loc.is_default,
        store=info.store_public_id,
        created_at=loc.created_at,
    )


def _level_out(row: LevelRow) -> StockLevelOut:
    return StockLevelOut(
        sku=row.sku_public_id,
        sku_code=row.sku_code,
        sku_options=row.sku_options or {},
        product_title=row.product_title,
        location=row.location_public_id,
        location_name=row.location_name,
        on_hand=row.on_hand,
        held=row.held,
        available=row.available,
    )


def _hold_out(row: HoldRow) -> HoldOut:
    hold = row.hold
    return HoldOut(
        id=hold.public_id,
        sku=row.sku_public_id,
        sku_code=row.sku_code,
        product_title=row.product_title,
        location=row.location_public_id,
        location_name=row.location_name,
        quantity=hold.quantity,
        reason=hold.reason,  # type: ignore[arg-type]
        reference=hold.reference,
        status=repository.effective_status(hold, clock.now()),
        actor=hold.actor,
        expires_at=hold.expires_at,
        created_at=hold.created_at,
        ended_at=hold.ended_at,
    )


def _movement_out(row: MovementRow) -> MovementOut:
    m = row.movement
    return MovementOut(
        kind=m.kind,
        sku=row.sku_public_id,
        location=row.location_public_id,
        delta_on_hand=m.delta_on_hand,
        delta_held=m.delta_held,
        hold=row.hold_public_id,
        reason=m.reason,
        actor=m.actor,
        created_at=m.created_at,
    )


async def _filters(
    uow: UnitOfWork, principal: Principal, sku: str | None, location: str | None
) -> tuple[list[int] | None, frozenset[int] | None]:
    """SKU ids and location ids a list is limited to; a location not made yet → none."""
    tenant = principal.require_tenant()
    sku_ids = [await repository.sku_id_for(uow.session, tenant, sku)] if sku else None
    if location:
        found = await locations.resolve_location(
            uow.session, tenant, location, create=False, store_ids=principal.store_ids
        )
        return sku_ids, frozenset() if found is None else frozenset({found.id})
    visible = await locations.visible_location_ids(uow.session, tenant, principal.store_ids)
    return sku_ids, visible


async def _visible_hold(uow: UnitOfWork, principal: Principal, hold_id: str) -> HoldRow:
    row = await repository.find_hold(uow.session, principal.require_tenant(), hold_id)
    if principal.store_ids is not None and (
        row.store_id is None or row.store_id not in principal.store_ids
    ):
        raise NotFound("No such hold")
    return row


# Locations


@router.get("/locations", response_model=Page[LocationOut], responses=READ_PROBLEMS)
async def list_locations(
    cursor: str | None = Cursor,
    limit: int = Limit,
    principal: Principal = Depends(require(Perm.INVENTORY_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[LocationOut]:
    """Where the merchant keeps stock (store roles: their stores' locations), by cursor."""
    infos, next_cursor = await locations.list_locations(
        uow.session,
        principal.require_tenant(),
        store_ids=principal.store_ids,
        cursor=cursor,
        limit=limit,
    )
    return Page[LocationOut](items=[_location_out(i) for i in infos], next_cursor=next_cursor)


@router.post("/locations", status_code=201, response_model=LocationOut, responses=WRITE_PROBLEMS)
async def create_location(
    body: LocationCreate,
    request: Request,
    principal: Principal = Depends(require(Perm.INVENTORY_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Add a warehouse. Store locations and the default warehouse (`online`) are made on
    first use and need no call. Idempotent with `Idempotency-Key`."""
    tenant = principal.require_tenant()
    if principal.store_ids is not None:
        raise Forbidden("Only merchant-wide staff add warehouses")

    async def work() -> LocationOut:
        loc = await locations.create_warehouse(uow.session, tenant, code=body.code, name=body.name)
        return _location_out(await locations.location_info(uow.session, tenant, loc.id))

    return await run_idempotent(request, uow, principal.scope, work, status_code=201)


# Stock levels


@router.get("/stock", response_model=Page[StockLevelOut], responses=READ_PROBLEMS)
async def list_stock(
    sku: str | None = SkuFilter,
    location: str | None = LocationFilter,
    cursor: str | None = Cursor,
    limit: int = Limit,
    principal: Principal = Depends(require(Perm.INVENTORY_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[StockLevelOut]:
    """Stock levels (on hand, held by unexpired holds, available), by cursor."""
    sku_ids, location_ids = await _filters(uow, principal, sku, location)
    rows, next_cursor = await repository.list_levels(
        uow.session,
        principal.require_tenant(),
        sku_ids=sku_ids,
        location_ids=location_ids,
        cursor=cursor,
        limit=limit,
    )
    return Page[StockLevelOut](items=[_level_out(r) for r in rows], next_cursor=next_cursor)


@router.post("/stock/adjust", response_model=StockOut, responses=WRITE_PROBLEMS)
async def adjust_stock(
    body: StockAdjust,
    request: Request,
    principal: Principal = Depends(require(Perm.INVENTORY_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Add or remove units with a reason. Removing more than is available (free of holds)
    is refused with 409 `insufficient_stock`. Idempotent with `Idempotency-Key`."""
    tenant = principal.require_tenant()

    async def work() -> StockOut:
        sku_id = await repository.sku_id_for(uow.session, tenant, body.sku)
        loc = await locations.resolve_location(
            uow.session, tenant, body.location, create=True, store_ids=principal.store_ids
        )
        assert loc is not None
        view = await service.adjust_stock(
            uow.session,
            tenant,
            sku_id=sku_id,
            location_id=loc.id,
            delta=body.delta,
            reason=body.reason,
            actor=principal.public_id,
            kind=MovementKind(body.kind),
        )
        return StockOut(
            sku=body.sku,
            location=loc.public_id,
            on_hand=view.on_hand,
            held=view.held,
            available=view.available,
        )

    return await run_idempotent(request, uow, principal.scope, work, status_code=200)


@router.post("/stock/count", response_model=StockOut, responses=WRITE_PROBLEMS)
async def count_stock(
    body: StockCount,
    request: Request,
    principal: Principal = Depends(require(Perm.INVENTORY_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Record a stocktake: on hand becomes the counted number (409 `below_held` when
    fewer than the units held). Idempotent with `Idempotency-Key`."""
    tenant = principal.require_tenant()

    async def work() -> StockOut:
        sku_id = await repository.sku_id_for(uow.session, tenant, body.sku)
        loc = await locations.resolve_location(
            uow.session, tenant, body.location, create=True, store_ids=principal.store_ids
        )
        assert loc is not None
        view = await service.set_stock(
            uow.session,
            tenant,
            sku_id=sku_id,
            location_id=loc.id,
            on_hand=body.on_hand,
            reason=body.reason,
            actor=principal.public_id,
        )
        return StockOut(
            sku=body.sku,
            location=loc.public_id,
            on_hand=view.on_hand,
            held=view.held,
            available=view.available,
        )

    return await run_idempotent(request, uow, principal.scope, work, status_code=200)


@router.get("/stock/movements", response_model=Page[MovementOut], responses=READ_PROBLEMS)
async def list_movements(
    sku: str | None = SkuFilter,
    location: str | None = LocationFilter,
    kind: MovementKind | None = Query(None),
    hold: str | None = Query(None, max_length=40, description="A hold id (`hld_…`)"),
    cursor: str | None = Cursor,
    limit: int = Limit,
    principal: Principal = Depends(require(Perm.INVENTORY_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[MovementOut]:
    """The ledger: every change of on hand and held, oldest first, by cursor."""
    sku_ids, location_ids = await _filters(uow, principal, sku, location)
    hold_id = (await _visible_hold(uow, principal, hold)).id if hold else None
    rows, next_cursor = await repository.list_movements(
        uow.session,
        principal.require_tenant(),
        sku_ids=sku_ids,
        location_ids=location_ids,
        kinds=[kind.value] if kind else None,
        hold_id=hold_id,
        cursor=cursor,
        limit=limit,
    )
    return Page[MovementOut](items=[_movement_out(r) for r in rows], next_cursor=next_cursor)


# Holds


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
        return _hold_out(await repository.find_hold(uow.session, tenant, hold.public_id))

    return await run_idempotent(request, uow, principal.scope, work, status_code=201)


@router.get("/holds", response_model=Page[HoldOut], responses=READ_PROBLEMS)
async def list_holds(
    status: HoldStatus | None = Query(None, description="As in effect: expired → lapsed"),
    sku: str | None = SkuFilter,
    location: str | None = LocationFilter,
    reference: str | None = Query(None, max_length=100),
    cursor: str | None = Cursor,
    limit: int = Limit,
    principal: Principal = Depends(require(Perm.INVENTORY_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[HoldOut]:
    """Holds, oldest first, by cursor."""
    sku_ids, location_ids = await _filters(uow, principal, sku, location)
    rows, next_cursor = await repository.list_holds(
        uow.session,
        principal.require_tenant(),
        status=status,
        sku_ids=sku_ids,
        location_ids=location_ids,
        reference=reference,
        cursor=cursor,
        limit=limit,
    )
    return Page[HoldOut](items=[_hold_out(r) for r in rows], next_cursor=next_cursor)


@router.get("/holds/{hold_id}", response_model=HoldOut, responses=READ_PROBLEMS)
async def get_hold(
    hold_id: str = HoldId,
    principal: Principal = Depends(require(Perm.INVENTORY_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> HoldOut:
    """One hold."""
    return _hold_out(await _visible_hold(uow, principal, hold_id))


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
        row = await _visible_hold(uow, principal, hold_id)
        if action == "release":
            await service.release_hold(uow.session, tenant, row.id, actor=principal.public_id)
        elif action == "consume":
            await service.consume_hold(uow.session, tenant, row.id, actor=principal.public_id)
        else:
            assert ttl is not None
            await service.extend_hold(
                uow.session, tenant, row.id, ttl=ttl, actor=principal.public_id
            )
        return _hold_out(await repository.find_hold(uow.session, tenant, hold_id))

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
