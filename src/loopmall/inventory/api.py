"""JSON routes of inventory: locations, stock levels, adjustments, counts and the ledger;
holds are in :mod:`loopmall.inventory.api_holds` and included here.

Store roles (store manager, guide, cashier) see and touch only their stores' locations:
anything else answers 404, as if it did not exist.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from loopmall.core.errors import Forbidden
from loopmall.core.http import read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import Page
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.inventory import locations, records, repository, service
from loopmall.inventory.api_common import (
    READ_PROBLEMS,
    WRITE_PROBLEMS,
    Cursor,
    Limit,
    LocationFilter,
    SkuFilter,
    level_out,
    list_filters,
    location_out,
    movement_out,
    visible_hold,
)
from loopmall.inventory.api_holds import router as holds_router
from loopmall.inventory.rules import MovementKind
from loopmall.inventory.schemas import (
    LocationCreate,
    LocationOut,
    MovementOut,
    StockAdjust,
    StockCount,
    StockLevelOut,
    StockOut,
)

router = APIRouter(tags=["inventory"])
router.include_router(holds_router)


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
    return Page[LocationOut](items=[location_out(i) for i in infos], next_cursor=next_cursor)


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
        return location_out(await locations.location_info(uow.session, tenant, loc.id))

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
    sku_ids, location_ids = await list_filters(uow, principal, sku, location)
    rows, next_cursor = await repository.list_levels(
        uow.session,
        principal.require_tenant(),
        sku_ids=sku_ids,
        location_ids=location_ids,
        cursor=cursor,
        limit=limit,
    )
    return Page[StockLevelOut](items=[level_out(r) for r in rows], next_cursor=next_cursor)


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
    sku_ids, location_ids = await list_filters(uow, principal, sku, location)
    hold_id = (await visible_hold(uow, principal, hold)).id if hold else None
    rows, next_cursor = await records.list_movements(
        uow.session,
        principal.require_tenant(),
        sku_ids=sku_ids,
        location_ids=location_ids,
        kinds=[kind.value] if kind else None,
        hold_id=hold_id,
        cursor=cursor,
        limit=limit,
    )
    return Page[MovementOut](items=[movement_out(r) for r in rows], next_cursor=next_cursor)
