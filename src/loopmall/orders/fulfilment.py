"""Fulfilment: shipping, ready for pickup, completion, the pickup code (核销), refund
requests. Staff calls pass ``store_ids`` (None: every store) so a store's staff only ever
touch their own stores' orders."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.tenancy import Tenant
from loopmall.orders import stock
from loopmall.orders.models import Order
from loopmall.orders.rules import (
    IllegalOrderTransition,
    OrderStatus,
    PaymentMethod,
    PickupCodeInvalid,
    check_fulfilment,
)
from loopmall.orders.service import cancel_order, lines_of
from loopmall.orders.steps import lock_order, move

S = OrderStatus


async def ship_order(
    session: AsyncSession,
    tenant: Tenant,
    order_id: int,
    *,
    actor: str,
    carrier: str = "",
    tracking_no: str = "",
    store_ids: frozenset[int] | None = None,
) -> Order:
    """Ship a delivery order (paid, or cash on delivery). Raises 409
    ``illegal_order_transition``, 409 ``insufficient_stock`` (cash on delivery whose hold
    lapsed and whose units are gone)."""
    order = await _lock_visible(session, tenant, order_id, store_ids)
    check_fulfilment(order, order.status, S.SHIPPED)
    order.carrier = carrier.strip()[:40]
    order.tracking_no = tracking_no.strip()[:60]
    if order.status == S.CREATED:  # cash on delivery: the goods leave now
        await stock.sell_lines(session, tenant, order, await lines_of(session, tenant, order.id))
    note = " ".join(x for x in (order.carrier, order.tracking_no) if x)
    await move(
        session,
        tenant,
        order,
        S.SHIPPED,
        actor=actor,
        note=note,
        carrier=order.carrier,
        tracking_no=order.tracking_no,
    )
    return order


async def mark_ready(
    session: AsyncSession,
    tenant: Tenant,
    order_id: int,
    *,
    actor: str,
    store_ids: frozenset[int] | None = None,
) -> Order:
    """The pickup order's goods are waiting at the store. Raises 409."""
    order = await _lock_visible(session, tenant, order_id, store_ids)
    check_fulfilment(order, order.status, S.READY_FOR_PICKUP)
    if order.status == S.CREATED:  # pay at the counter: the goods are set aside now
        await stock.sell_lines(session, tenant, order, await lines_of(session, tenant, order.id))
    await move(session, tenant, order, S.READY_FOR_PICKUP, actor=actor)
    return order


async def complete_order(
    session: AsyncSession,
    tenant: Tenant,
    order_id: int,
    *,
    actor: str,
    customer_id: int | None = None,
    store_ids: frozenset[int] | None = None,
) -> Order:
    """Received (delivery) or handed over (pickup). Cash on delivery: the cash is
    collected now (``paid_fen`` becomes the total). Raises 409."""
    if customer_id is not None:
        order = await lock_order(
            session, tenant, Order.id == order_id, Order.customer_id == customer_id
        )
    else:
        order = await _lock_visible(session, tenant, order_id, store_ids)
    check_fulfilment(order, order.status, S.COMPLETED)
    if order.payment_method == PaymentMethod.COD and order.paid_fen == 0:
        order.paid_fen = order.total_fen
        order.paid_at = clock.now()
    await move(session, tenant, order, S.COMPLETED, actor=actor)
    return order


def _digits(code: str) -> str:
    return "".join(ch for ch in code if ch.isdigit())[:20]


async def find_by_pickup_code(
    session: AsyncSession, tenant: Tenant, code: str, *, store_ids: frozenset[int] | None = None
) -> Order:
    """The pickup order with this code (spaces and dashes ignored). Raises 422
    ``pickup_code_invalid`` for no such code, or another store's order."""
    digits = _digits(code)
    order = None
    if digits:
        order = await session.scalar(
            select(Order).where(Order.merchant_id == tenant.id, Order.pickup_code == digits)
        )
    if order is None or (store_ids is not None and order.store_id not in store_ids):
        raise PickupCodeInvalid()
    return order


async def redeem_pickup_code(
    session: AsyncSession,
    tenant: Tenant,
    code: str,
    *,
    actor: str,
    store_ids: frozenset[int] | None = None,
) -> Order:
    """Hand over the pickup order with this code (核销): ready (or paid) → completed; a
    pay-at-the-counter order is paid in cash now. ``store_ids``: the staff member's stores
    (None: all). Raises 422 ``pickup_code_invalid`` for an unknown code or another store's
    order, 409 ``illegal_order_transition`` for an order not waiting for pickup (already
    collected, unpaid online, cancelled)."""
    order = await find_by_pickup_code(session, tenant, code, store_ids=store_ids)
    return await complete_order(session, tenant, order.id, actor=actor, store_ids=store_ids)


async def request_refund(
    session: AsyncSession, tenant: Tenant, order_id: int, *, customer_id: int, reason: str
) -> Order:
    """The customer asks for the money back (the merchant refunds from the console)."""
    order = await lock_order(
        session, tenant, Order.id == order_id, Order.customer_id == customer_id
    )
    await move(session, tenant, order, S.REFUND_REQUESTED, actor="customer", note=reason)
    return order


async def decline_refund(
    session: AsyncSession, tenant: Tenant, order_id: int, *, actor: str, reason: str = ""
) -> Order:
    """Staff decline a refund request: the order returns to where it was. Raises 409
    ``illegal_order_transition`` when no request is open."""
    order = await lock_order(session, tenant, Order.id == order_id)
    if order.status != S.REFUND_REQUESTED or not order.refund_from:
        raise IllegalOrderTransition(
            "There is no open refund request to decline",
            current=order.status,
            target=order.refund_from or S.PAID.value,
        )
    await move(session, tenant, order, S(order.refund_from), actor=actor, note=reason)
    return order


async def _lock_visible(
    session: AsyncSession, tenant: Tenant, order_id: int, store_ids: frozenset[int] | None
) -> Order:
    """The order, locked; a store-bound staff member sees only their stores' orders."""
    order = await lock_order(session, tenant, Order.id == order_id)
    if store_ids is not None and order.store_id not in store_ids:
        raise NotFound("No such order")
    return order


async def confirm_receipt(
    session: AsyncSession, tenant: Tenant, order_id: int, *, customer_id: int
) -> Order:
    """The customer says the delivery arrived: shipped → completed. Raises 409 for any
    other status (a pickup order completes when the store redeems its code)."""
    order = await lock_order(
        session, tenant, Order.id == order_id, Order.customer_id == customer_id
    )
    if order.status != S.SHIPPED:
        raise IllegalOrderTransition(
            f"A {order.status} order cannot be confirmed as received",
            current=order.status,
            target=S.COMPLETED.value,
        )
    return await complete_order(
        session, tenant, order.id, actor="customer", customer_id=customer_id
    )


STAFF_ACTIONS = ("ship", "ready", "complete", "cancel", "decline-refund")


async def staff_action(
    session: AsyncSession,
    tenant: Tenant,
    order_id: int,
    action: str,
    *,
    actor: str,
    store_ids: frozenset[int] | None,
    carrier: str = "",
    tracking_no: str = "",
    reason: str = "",
) -> Order:
    """One of :data:`STAFF_ACTIONS` on an order, as the staff API and console pages name
    them. Raises what the step raises; ValueError for an unknown action."""
    if action == "ship":
        return await ship_order(
            session,
            tenant,
            order_id,
            actor=actor,
            carrier=carrier,
            tracking_no=tracking_no,
            store_ids=store_ids,
        )
    if action == "ready":
        return await mark_ready(session, tenant, order_id, actor=actor, store_ids=store_ids)
    if action == "complete":
        return await complete_order(session, tenant, order_id, actor=actor, store_ids=store_ids)
    if action == "cancel":
        await _lock_visible(session, tenant, order_id, store_ids)
        return await cancel_order(
            session, tenant, order_id, actor=actor, reason=reason or "cancelled by staff"
        )
    if action == "decline-refund":
        await _lock_visible(session, tenant, order_id, store_ids)
        return await decline_refund(session, tenant, order_id, actor=actor, reason=reason)
    raise ValueError(f"unknown order action {action!r}")
