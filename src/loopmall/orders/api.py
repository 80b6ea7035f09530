"""Staff JSON routes for orders (``/api/v1/orders``): list, read, ship, ready, complete,
cancel, decline a refund request, look up and redeem a pickup code. The consumer routes
(``/api/v1/mall/{slug}/…``) live in :mod:`loopmall.orders.api_mall` and are included here.

A store's staff (store manager, guide, cashier) see and touch only their stores' orders.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.http import read_uow, write_uow
from loopmall.core.pagination import Page
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.merchants.models import Store
from loopmall.orders import fulfilment, queries
from loopmall.orders.api_common import list_page
from loopmall.orders.api_mall import router as mall_router
from loopmall.orders.models import Order
from loopmall.orders.rules import OrderStatus
from loopmall.orders.schemas import (
    OrderOut,
    PickupCodeIn,
    ReasonIn,
    ShipIn,
    detail_out,
)

router = APIRouter()
router.include_router(mall_router)
staff = APIRouter(prefix="/orders", tags=["orders"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "The role may not do this"},
    404: {"description": "No such order (or not one of your stores')"},
    409: {"description": "`illegal_order_transition`, `insufficient_stock`"},
    422: {"description": "`pickup_code_invalid`, `validation_failed`"},
}


def shanghai_day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=clock.SHANGHAI)


async def store_id_of(
    session: AsyncSession,
    tenant: Tenant,
    public_id: str | None,
    visible: frozenset[int] | None = None,
) -> int | None:
    """The store a list is filtered by (None: no filter). 404 for an unknown store, and
    exactly alike for one outside ``visible`` (a store role's stores): an empty list would
    tell that the id exists (#11)."""
    if not public_id:
        return None
    from loopmall.core.errors import NotFound

    store_id: int | None = await session.scalar(
        scoped(Store, tenant, Store.public_id == public_id).with_only_columns(Store.id)
    )
    if store_id is None or (visible is not None and store_id not in visible):
        raise NotFound("No such store", store=public_id)
    return store_id


@staff.get("", response_model=Page[OrderOut], responses=PROBLEMS)
async def list_orders(
    status: OrderStatus | None = Query(None),
    store: PlainText | None = Query(None, max_length=64, description="store public id"),
    kind: str | None = Query(None, pattern="^(mall|face_to_face)$"),
    q: PlainText | None = Query(None, max_length=40, description="number, code, phone"),
    created_from: date | None = Query(None, description="first day (Asia/Shanghai)"),
    created_to: date | None = Query(None, description="last day, included"),
    cursor: PlainText | None = Query(None, max_length=200),
    limit: int = Query(20, ge=1, le=200),
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[OrderOut]:
    """Orders, newest first, by cursor; filters combine."""
    tenant = principal.require_tenant()
    filters = queries.OrderFilters(
        status=status,
        store_id=await store_id_of(uow.session, tenant, store, principal.store_ids),
        kind=kind,
        q=q,
        created_from=shanghai_day_start(created_from) if created_from else None,
        created_to=shanghai_day_start(created_to + timedelta(days=1)) if created_to else None,
    )
    return await list_page(
        uow.session, tenant, filters, store_ids=principal.store_ids, cursor=cursor, limit=limit
    )


@staff.get("/pickup/{code}", response_model=OrderOut, responses=PROBLEMS)
async def find_pickup(
    code: str,
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> OrderOut:
    """The pickup order with this code (before handing it over). 422 `pickup_code_invalid`."""
    tenant = principal.require_tenant()
    order = await fulfilment.find_by_pickup_code(
        uow.session, tenant, code, store_ids=principal.store_ids
    )
    return detail_out(
        await queries.order_detail(uow.session, tenant, order.public_id), pay_url=None
    )


@staff.post("/pickup/redeem", response_model=OrderOut, responses=PROBLEMS)
async def redeem_pickup(
    body: PickupCodeIn,
    principal: Principal = Depends(require(Perm.ORDERS_FULFIL)),
    uow: UnitOfWork = Depends(write_uow),
) -> OrderOut:
    """Hand over a pickup order by its code (scanned or typed): → completed. Redeeming a
    code twice is 409 `illegal_order_transition`."""
    tenant = principal.require_tenant()
    order = await fulfilment.redeem_pickup_code(
        uow.session, tenant, body.code, actor=principal.public_id, store_ids=principal.store_ids
    )
    out = detail_out(await queries.order_detail(uow.session, tenant, order.public_id), pay_url=None)
    await uow.commit()
    return out


@staff.get("/{order_id}", response_model=OrderOut, responses=PROBLEMS)
async def get_order(
    order_id: str,
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> OrderOut:
    """One order with its lines, timeline and refunds."""
    detail = await queries.order_detail(
        uow.session, principal.require_tenant(), order_id, store_ids=principal.store_ids
    )
    return detail_out(detail, pay_url=None)


async def _visible(uow: UnitOfWork, principal: Principal, public_id: str) -> Order:
    tenant = principal.require_tenant()
    detail = await queries.order_detail(
        uow.session, tenant, public_id, store_ids=principal.store_ids
    )
    return detail.order


async def _answer(uow: UnitOfWork, principal: Principal, order: Order) -> OrderOut:
    tenant = principal.require_tenant()
    out = detail_out(await queries.order_detail(uow.session, tenant, order.public_id), pay_url=None)
    await uow.commit()
    return out


async def _act(
    uow: UnitOfWork, principal: Principal, public_id: str, action: str, **details: str
) -> OrderOut:
    order = await _visible(uow, principal, public_id)
    await fulfilment.staff_action(
        uow.session,
        principal.require_tenant(),
        order.id,
        action,
        actor=principal.public_id,
        store_ids=principal.store_ids,
        **details,
    )
    return await _answer(uow, principal, order)


@staff.post("/{order_id}/ship", response_model=OrderOut, responses=PROBLEMS)
async def ship(
    order_id: str,
    body: ShipIn,
    principal: Principal = Depends(require(Perm.ORDERS_FULFIL)),
    uow: UnitOfWork = Depends(write_uow),
) -> OrderOut:
    """Ship a delivery order (paid, or cash on delivery)."""
    return await _act(
        uow, principal, order_id, "ship", carrier=body.carrier, tracking_no=body.tracking_no
    )


@staff.post("/{order_id}/ready", response_model=OrderOut, responses=PROBLEMS)
async def ready(
    order_id: str,
    principal: Principal = Depends(require(Perm.ORDERS_FULFIL)),
    uow: UnitOfWork = Depends(write_uow),
) -> OrderOut:
    """The pickup order waits at the store (pay-at-the-counter: its units are set aside)."""
    return await _act(uow, principal, order_id, "ready")


@staff.post("/{order_id}/complete", response_model=OrderOut, responses=PROBLEMS)
async def complete(
    order_id: str,
    principal: Principal = Depends(require(Perm.ORDERS_FULFIL)),
    uow: UnitOfWork = Depends(write_uow),
) -> OrderOut:
    """Delivered (cash on delivery: cash collected) or handed over."""
    return await _act(uow, principal, order_id, "complete")


@staff.post("/{order_id}/cancel", response_model=OrderOut, responses=PROBLEMS)
async def cancel(
    order_id: str,
    body: ReasonIn,
    principal: Principal = Depends(require(Perm.ORDERS_FULFIL)),
    uow: UnitOfWork = Depends(write_uow),
) -> OrderOut:
    """Cancel an unpaid order; its held units come back."""
    return await _act(uow, principal, order_id, "cancel", reason=body.reason)


@staff.post("/{order_id}/decline-refund", response_model=OrderOut, responses=PROBLEMS)
async def decline_refund(
    order_id: str,
    body: ReasonIn,
    principal: Principal = Depends(require(Perm.ORDERS_FULFIL)),
    uow: UnitOfWork = Depends(write_uow),
) -> OrderOut:
    """Decline a refund request: the order returns to where it was."""
    return await _act(uow, principal, order_id, "decline-refund", reason=body.reason)


router.include_router(staff)
