"""What the inventory routes share: problem docs, query parameters, filters, shapes."""

from __future__ import annotations

from typing import Any

from fastapi import Path, Query

from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.pagination import MAX_LIMIT
from loopmall.core.uow import UnitOfWork
from loopmall.identity.principal import Principal
from loopmall.inventory import locations, records, repository
from loopmall.inventory.locations import LocationInfo
from loopmall.inventory.records import HoldRow, MovementRow
from loopmall.inventory.repository import LevelRow
from loopmall.inventory.schemas import HoldOut, LocationOut, MovementOut, StockLevelOut


def problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


READ_PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: problem("The caller's role may not read stock"),
    404: problem("No such SKU, location, store or hold for this merchant"),
}
WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **READ_PROBLEMS,
    409: problem(
        "`insufficient_stock` (with `available`, `requested`), `below_held`, "
        "`illegal_transition` (with `current`, `target`), `location_code_taken`"
    ),
    422: problem(
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


def location_out(info: LocationInfo) -> LocationOut:
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


def level_out(row: LevelRow) -> StockLevelOut:
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


def hold_out(row: HoldRow) -> HoldOut:
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
        status=records.effective_status(hold, clock.now()),
        actor=hold.actor,
        expires_at=hold.expires_at,
        created_at=hold.created_at,
        ended_at=hold.ended_at,
    )


def movement_out(row: MovementRow) -> MovementOut:
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


async def list_filters(
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


async def visible_hold(uow: UnitOfWork, principal: Principal, hold_id: str) -> HoldRow:
    row = await records.find_hold(uow.session, principal.require_tenant(), hold_id)
    if principal.store_ids is not None and (
        row.store_id is None or row.store_id not in principal.store_ids
    ):
        raise NotFound("No such hold")
    return row
