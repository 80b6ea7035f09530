"""Consumer JSON routes under ``/api/v1/mall/{slug}/``: cart, pickup stores, checkout,
my orders, cancel, confirm receipt, ask for a refund. The shopper comes from
``customers.deps.require_shopper`` (bearer token or the mall cookie + CSRF)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import Page
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.customers.deps import Shopper, require_shopper
from loopmall.orders import cart, checkout, fulfilment, queries, service
from loopmall.orders.api_common import list_page
from loopmall.orders.rules import OrderStatus
from loopmall.orders.schemas import (
    CartItemIn,
    CartOut,
    CartQuantityIn,
    CheckoutIn,
    OrderOut,
    ReasonIn,
    cart_out,
    detail_out,
)

router = APIRouter(prefix="/mall/{slug}", tags=["mall orders"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in to this mall"},
    404: {"description": "No such SKU, store or order"},
    409: {
        "description": "`cart_lines_unavailable`, `insufficient_stock`, `illegal_order_transition`"
    },
    422: {
        "description": "`cart_empty`, `address_required`, `pickup_not_available`, "
        "`cod_not_enabled`, `not_for_sale`, `cart_limit`"
    },
}


class PickupStoreOut(BaseModel):
    id: str
    name: str
    city: str
    district: str
    address: str
    phone: str


def pay_base(slug: str) -> str:
    return f"/m/{slug}/pay"


def scope(shopper: Shopper) -> str:
    return f"customer:{shopper.customer_id}"


async def _cart(uow: UnitOfWork, shopper: Shopper, store: str | None) -> CartOut:
    picked = None
    if store:
        picked = await checkout.pickup_store(uow.session, shopper.tenant, store)
    view = await cart.view_cart(uow.session, shopper.tenant, shopper.customer_id, store=picked)
    return cart_out(view)


@router.get("/cart", response_model=CartOut, responses=PROBLEMS)
async def get_cart(
    store: PlainText | None = Query(None, max_length=64, description="pickup store"),
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(read_uow),
) -> CartOut:
    """The cart priced for delivery, or for pickup at ``store`` (its prices and stock);
    every line says whether it can be bought now and why not."""
    return await _cart(uow, shopper, store)


@router.post("/cart/items", response_model=CartOut, responses=PROBLEMS)
async def add_item(
    body: CartItemIn,
    request: Request,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Add a SKU (quantities add up, at most 99 a line). Idempotent with `Idempotency-Key`."""

    async def work() -> CartOut:
        await cart.add_to_cart(
            uow.session, shopper.tenant, shopper.customer_id, body.sku, body.quantity
        )
        return await _cart(uow, shopper, None)

    return await run_idempotent(request, uow, scope(shopper), work, status_code=200)


@router.put("/cart/items/{sku}", response_model=CartOut, responses=PROBLEMS)
async def set_item(
    sku: str,
    body: CartQuantityIn,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> CartOut:
    """Set a line's quantity; 0 removes it."""
    await cart.set_quantity(uow.session, shopper.tenant, shopper.customer_id, sku, body.quantity)
    out = await _cart(uow, shopper, None)
    await uow.commit()
    return out


@router.delete("/cart/items/{sku}", response_model=CartOut, responses=PROBLEMS)
async def remove_item(
    sku: str,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> CartOut:
    """Remove a line."""
    await cart.set_quantity(uow.session, shopper.tenant, shopper.customer_id, sku, 0)
    out = await _cart(uow, shopper, None)
    await uow.commit()
    return out


@router.get("/pickup-stores", response_model=Page[PickupStoreOut], responses=PROBLEMS)
async def list_pickup_stores(
    q: PlainText = Query("", max_length=50, description="name, city, district or address"),
    cursor: PlainText | None = Query(None, max_length=200),
    limit: int = Query(checkout.PICKUP_PAGE, ge=1, le=100),
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[PickupStoreOut]:
    """A page of the open stores where orders can be picked up (自提), by name."""
    stores, next_cursor = await checkout.pickup_stores(
        uow.session, shopper.tenant, q=q.strip(), cursor=cursor, limit=limit
    )
    items = [
        PickupStoreOut(
            id=s.public_id,
            name=s.name,
            city=s.city,
            district=s.district,
            address=s.address,
            phone=s.phone,
        )
        for s in stores
    ]
    return Page[PickupStoreOut](items=items, next_cursor=next_cursor)


@router.post("/checkout", status_code=201, response_model=OrderOut, responses=PROBLEMS)
async def place_order(
    body: CheckoutIn,
    request: Request,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Turn the whole cart into an order and hold its units until it is paid (or until
    the unpaid-order time runs out). Answers the order with `pay_url` when it is to be
    paid online. Idempotent with `Idempotency-Key` (send one: a retried checkout must not
    become two orders)."""
    settings = get_state(request).settings

    async def work() -> OrderOut:
        address = None
        if body.address is not None:
            address = checkout.Address(body.address.name, body.address.phone, body.address.address)
        placed = await checkout.place_order(
            uow.session,
            shopper.tenant,
            customer_id=shopper.customer_id,
            request=checkout.CheckoutRequest(
                fulfilment=body.fulfilment,
                payment_method=body.payment_method,
                address=address,
                store_public_id=body.store,
                note=body.note,
            ),
            unpaid_ttl_seconds=settings.unpaid_order_ttl_seconds,
        )
        return _out(shopper, placed)

    return await run_idempotent(request, uow, scope(shopper), work, status_code=201)


async def _detail(uow: UnitOfWork, shopper: Shopper, public_id: str) -> OrderOut:
    detail = await queries.order_detail(
        uow.session, shopper.tenant, public_id, customer_id=shopper.customer_id
    )
    return _out(shopper, detail)


def _out(shopper: Shopper, detail: queries.OrderDetail) -> OrderOut:
    pay_url = None
    if service.awaits_payment(detail.order):
        pay_url = f"{pay_base(shopper.tenant.slug)}/{detail.order.public_id}"
    return detail_out(detail, pay_url=pay_url, for_customer=True)


@router.get("/orders", response_model=Page[OrderOut], responses=PROBLEMS)
async def my_orders(
    status: OrderStatus | None = Query(None),
    cursor: PlainText | None = Query(None, max_length=200),
    limit: int = Query(20, ge=1, le=100),
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[OrderOut]:
    """My orders in this mall, newest first."""
    return await list_page(
        uow.session,
        shopper.tenant,
        queries.OrderFilters(status=status, customer_id=shopper.customer_id),
        store_ids=None,
        cursor=cursor,
        limit=limit,
        pay_base=pay_base(shopper.tenant.slug),
        for_customer=True,
    )


@router.get("/orders/{order_id}", response_model=OrderOut, responses=PROBLEMS)
async def my_order(
    order_id: str,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(read_uow),
) -> OrderOut:
    """One of my orders, with its lines and timeline (and the pickup code)."""
    return await _detail(uow, shopper, order_id)


async def _mine(uow: UnitOfWork, shopper: Shopper, order_id: str) -> int:
    detail = await queries.order_detail(
        uow.session, shopper.tenant, order_id, customer_id=shopper.customer_id
    )
    return detail.order.id


@router.post("/orders/{order_id}/cancel", response_model=OrderOut, responses=PROBLEMS)
async def cancel_mine(
    order_id: str,
    body: ReasonIn,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> OrderOut:
    """Cancel my unpaid order; 409 `illegal_order_transition` once it is paid."""
    await service.cancel_order(
        uow.session,
        shopper.tenant,
        await _mine(uow, shopper, order_id),
        actor="customer",
        reason=body.reason or "cancelled by customer",
        customer_id=shopper.customer_id,
    )
    out = await _detail(uow, shopper, order_id)
    await uow.commit()
    return out


@router.post("/orders/{order_id}/receipt", response_model=OrderOut, responses=PROBLEMS)
async def confirm_receipt(
    order_id: str,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> OrderOut:
    """I received my delivery: shipped → completed."""
    await fulfilment.confirm_receipt(
        uow.session,
        shopper.tenant,
        await _mine(uow, shopper, order_id),
        customer_id=shopper.customer_id,
    )
    out = await _detail(uow, shopper, order_id)
    await uow.commit()
    return out


@router.post("/orders/{order_id}/refund-request", response_model=OrderOut, responses=PROBLEMS)
async def ask_refund(
    order_id: str,
    body: ReasonIn,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> OrderOut:
    """Ask for my money back; the merchant refunds (or declines) from the console."""
    await fulfilment.request_refund(
        uow.session,
        shopper.tenant,
        await _mine(uow, shopper, order_id),
        customer_id=shopper.customer_id,
        reason=body.reason,
    )
    out = await _detail(uow, shopper, order_id)
    await uow.commit()
    return out
