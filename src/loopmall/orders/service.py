"""Order operations after checkout: what payments calls, fulfilment, cancellation, refunds.

Every function takes the session and the tenant, flushes and never commits. Each move
goes through :func:`loopmall.orders.steps.move` (rules table, hooks, timeline, event).

Payments (helper B2) relies on :func:`get_payable`, :func:`get_payable_by_public_id`,
:func:`mark_paid`, :func:`record_refund` and :func:`create_face_to_face_order`; their
signatures are a contract.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import Conflict, NotFound, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.money import format_yuan
from loopmall.core.tenancy import Tenant, scoped
from loopmall.inventory.rules import InsufficientStock
from loopmall.merchants.models import Merchant
from loopmall.orders import hooks, stock
from loopmall.orders.events import OrderCreated, OrderRefunded
from loopmall.orders.models import Order, OrderLine, OrderRefund
from loopmall.orders.rules import (
    REFUNDABLE,
    Fulfilment,
    IllegalOrderTransition,
    OrderKind,
    OrderStatus,
    PaymentMethod,
    RefundExceedsPaid,
    check_move,
)
from loopmall.orders.steps import announce, lock_order, move, record_step

S = OrderStatus


@dataclass(frozen=True, slots=True)
class PayableOrder:
    """What payments needs to know about an order to take (or refuse) its money."""

    id: int
    public_id: str
    number: str
    status: str
    total_fen: int
    paid_fen: int
    customer_id: int | None
    store_id: int | None
    guide_staff_id: int | None
    description: str
    expires_at: datetime | None
    kind: str  # "mall" | "face_to_face"
    # Added after the contract, with defaults: cash-on-delivery orders are not paid online.
    payment_method: str = "online"  # "online" | "cod"
    fulfilment: str = "delivery"  # "delivery" | "pickup" | "none"


class MarkPaid(StrEnum):
    PAID = "paid"  # moved created → paid now: holds consumed, order.paid published
    ALREADY_PAID = "already_paid"  # this order was paid before: nothing changed
    CANCELLED = "cancelled"  # cancelled/closed (or its goods are gone): refund the payment
    AMOUNT_MISMATCH = "amount_mismatch"  # the amount is not the order's total: no change


def payable(order: Order) -> PayableOrder:
    return PayableOrder(
        id=order.id,
        public_id=order.public_id,
        number=order.number,
        status=order.status,
        total_fen=order.total_fen,
        paid_fen=order.paid_fen,
        customer_id=order.customer_id,
        store_id=order.store_id,
        guide_staff_id=order.guide_staff_id,
        description=order.description,
        expires_at=order.expires_at,
        kind=order.kind,
        payment_method=order.payment_method,
        fulfilment=order.fulfilment,
    )


def awaits_payment(order: Order) -> bool:
    """Whether the customer should be sent to pay this order now."""
    return order.status == S.CREATED and order.payment_method == PaymentMethod.ONLINE


def new_order_number() -> str:
    """``YYYYMMDD`` (Shanghai) and 8 random digits: readable on the phone, not guessable."""
    return clock.local(clock.now()).strftime("%Y%m%d") + f"{secrets.randbelow(10**8):08d}"


async def _get(session: AsyncSession, tenant: Tenant, *criteria: Any) -> Order:
    order: Order | None = await session.scalar(scoped(Order, tenant, *criteria))
    if order is None:
        raise NotFound("No such order")
    return order


async def get_order(session: AsyncSession, tenant: Tenant, public_id: str) -> Order:
    """The order with this public id; NotFound for none or another merchant's."""
    return await _get(session, tenant, Order.public_id == public_id)


# The columns of a PayableOrder, read as a row: paying reads an order on every start and
# every poll of the pay page, and needs none of the rest of the order (issue #13).
_PAYABLE_COLUMNS = tuple(getattr(Order, field.name) for field in fields(PayableOrder))


async def _get_payable(session: AsyncSession, tenant: Tenant, *criteria: Any) -> PayableOrder:
    row = (
        await session.execute(
            select(*_PAYABLE_COLUMNS).where(Order.merchant_id == tenant.id, *criteria)
        )
    ).first()
    if row is None:
        raise NotFound("No such order")
    return PayableOrder(*row)


async def get_payable(session: AsyncSession, tenant: Tenant, order_id: int) -> PayableOrder:
    """The payable view of order ``order_id``. Raises NotFound."""
    return await _get_payable(session, tenant, Order.id == order_id)


async def get_payable_by_public_id(
    session: AsyncSession, tenant: Tenant, public_id: str
) -> PayableOrder:
    """The payable view of the order with this public id. Raises NotFound."""
    return await _get_payable(session, tenant, Order.public_id == public_id)


async def get_payables(
    session: AsyncSession, tenant: Tenant, order_ids: set[int]
) -> dict[int, PayableOrder]:
    """The payable views of several orders by id, in one query (unknown ids are left out)."""
    if not order_ids:
        return {}
    rows = await session.scalars(scoped(Order, tenant, Order.id.in_(order_ids)))
    return {order.id: payable(order) for order in rows}


async def lines_of(session: AsyncSession, tenant: Tenant, order_id: int) -> list[OrderLine]:
    stmt = scoped(OrderLine, tenant, OrderLine.order_id == order_id).order_by(OrderLine.id)
    return list((await session.scalars(stmt)).all())


async def mark_paid(
    session: AsyncSession,
    tenant: Tenant,
    order_id: int,
    *,
    amount_fen: int,
    payment_id: int,
    paid_at: datetime,
) -> MarkPaid:
    """Record that ``amount_fen`` was paid for the order by payment ``payment_id``.

    Locks the order row, so concurrent duplicate callbacks serialise: exactly one gets
    ``PAID``, the others ``ALREADY_PAID``. ``CANCELLED`` when the order was cancelled or is
    in a final state, or when its goods can no longer be had (its holds lapsed and the
    units were sold meanwhile — the order is then cancelled here); payments refunds.
    ``AMOUNT_MISMATCH`` when the amount differs from the total, or the order is cash on
    delivery (``PayableOrder.payment_method == "cod"``: not to be paid online). Raises
    only NotFound.
    """
    order = await lock_order(session, tenant, Order.id == order_id)
    if order.status == S.CANCELLED or order.status == S.REFUNDED:
        return MarkPaid.CANCELLED
    if order.status != S.CREATED or order.paid_fen > 0:
        return MarkPaid.ALREADY_PAID
    if order.payment_method != PaymentMethod.ONLINE or amount_fen != order.total_fen:
        return MarkPaid.AMOUNT_MISMATCH
    lines = await lines_of(session, tenant, order.id)
    try:
        async with session.begin_nested():
            await stock.sell_lines(session, tenant, order, lines)
    except InsufficientStock:
        # The savepoint's rollback expired what it touched: read the order afresh.
        order = await lock_order(session, tenant, Order.id == order_id)
        lines = await lines_of(session, tenant, order.id)
        await _cancel(session, tenant, order, lines, actor="system", reason="stock_gone")
        return MarkPaid.CANCELLED
    order.paid_fen = amount_fen
    order.payment_id = payment_id
    order.expires_at = None
    await move(
        session, tenant, order, S.PAID, actor="payment", amount_fen=amount_fen, paid_at=paid_at
    )
    if order.kind == OrderKind.FACE_TO_FACE:
        await move(session, tenant, order, S.COMPLETED, actor="payment")
    await session.flush()
    return MarkPaid.PAID


async def record_refund(
    session: AsyncSession, tenant: Tenant, order_id: int, *, refund_fen: int, refund_id: int
) -> None:
    """Record a refund that payments made. Partial refunds accumulate and leave the
    status as it was (a pending refund request returns to where the order was); the
    refund that reaches the paid amount moves the order to ``refunded``. Publishes
    ``order.refunded`` with ``refund_fen`` every time. Recording the same ``refund_id``
    again changes nothing. Raises NotFound, 422 ``refund_exceeds_paid``, 409
    ``illegal_order_transition`` for an order that was never paid."""
    if isinstance(refund_fen, bool) or not isinstance(refund_fen, int) or refund_fen <= 0:
        raise ValidationFailed("refund_fen must be a positive whole number", field="refund_fen")
    order = await lock_order(session, tenant, Order.id == order_id)
    if order.payment_method != PaymentMethod.ONLINE:
        # Cash changed hands at the door or the counter: no provider refunds it.
        raise IllegalOrderTransition(
            "A cash-on-delivery order is not refunded through a payment provider",
            current=order.status,
            target=S.REFUNDED.value,
        )
    seen = await session.scalar(
        select(OrderRefund.id).where(
            OrderRefund.order_id == order.id, OrderRefund.refund_id == refund_id
        )
    )
    if seen is not None:
        return
    if order.status not in REFUNDABLE:
        check_move(order, order.status, S.REFUNDED)
    if order.refunded_fen + refund_fen > order.paid_fen:
        raise RefundExceedsPaid(
            f"Only {order.paid_fen - order.refunded_fen} fen are left to refund",
            refundable_fen=order.paid_fen - order.refunded_fen,
            refundable_yuan=format_yuan(order.paid_fen - order.refunded_fen),
        )
    now = clock.now()
    session.add(
        OrderRefund(
            merchant_id=tenant.id,
            order_id=order.id,
            refund_id=refund_id,
            amount_fen=refund_fen,
            at=now,
        )
    )
    order.refunded_fen += refund_fen
    order.updated_at = now
    if order.refunded_fen == order.paid_fen:
        await move(
            session,
            tenant,
            order,
            S.REFUNDED,
            actor="payment",
            note="refund",
            amount_fen=refund_fen,
            refund_fen=refund_fen,
        )
        return
    if order.status == S.REFUND_REQUESTED and order.refund_from:
        await move(
            session,
            tenant,
            order,
            S(order.refund_from),
            actor="payment",
            note="partial_refund",
            amount_fen=refund_fen,
        )
    else:
        record_step(
            session,
            order,
            order.status,
            actor="payment",
            note="partial_refund",
            amount_fen=refund_fen,
        )
    await announce(session, order, OrderRefunded, refund_fen=refund_fen)
    await session.flush()


async def create_face_to_face_order(
    session: AsyncSession,
    tenant: Tenant,
    *,
    amount_fen: int,
    store_id: int | None,
    guide_staff_id: int | None,
    customer_id: int | None,
    note: str,
    unpaid_ttl_seconds: int | None = None,
) -> PayableOrder:
    """An order with no lines for an amount a customer typed on a store's or guide's
    payment code (面对面收钱), credited to that store/guide; the customer may be anonymous.
    Completes when paid. Raises 422 for an amount outside 1 fen – 1,000,000 yuan."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise ValidationFailed("amount_fen must be a whole number", field="amount_fen")
    if not 1 <= amount_fen <= 100_000_000:
        raise ValidationFailed("The amount must be from 0.01 to 1,000,000 yuan", field="amount_fen")
    now = clock.now()
    if unpaid_ttl_seconds is None:
        from loopmall.config import get_settings

        unpaid_ttl_seconds = get_settings().unpaid_order_ttl_seconds
    note = note.strip()[:200]
    order = Order(
        merchant_id=tenant.id,
        public_id=new_public_id("ord"),
        number=new_order_number(),
        kind=OrderKind.FACE_TO_FACE.value,
        status=S.CREATED.value,
        fulfilment=Fulfilment.NONE.value,
        payment_method=PaymentMethod.ONLINE.value,
        customer_id=customer_id,
        store_id=store_id,
        guide_staff_id=guide_staff_id,
        items_fen=amount_fen,
        shipping_fen=0,
        total_fen=amount_fen,
        paid_fen=0,
        refunded_fen=0,
        note=note,
        description=(note or "面对面收款")[:128],
        expires_at=now + timedelta(seconds=unpaid_ttl_seconds),
        created_at=now,
        updated_at=now,
    )
    await hooks.run_before("create", session, tenant, order)
    session.add(order)
    await session.flush()
    record_step(session, order, None, actor="customer", amount_fen=amount_fen)
    await hooks.run_after("create", session, tenant, order)
    await announce(session, order, OrderCreated)
    await session.flush()
    return payable(order)


async def _cancel(
    session: AsyncSession,
    tenant: Tenant,
    order: Order,
    lines: list[OrderLine],
    *,
    actor: str,
    reason: str,
) -> None:
    order.cancel_reason = reason[:200]
    await move(session, tenant, order, S.CANCELLED, actor=actor, note=reason, reason=reason)
    await stock.release_lines(session, tenant, lines, reason=order.public_id)


async def cancel_order(
    session: AsyncSession,
    tenant: Tenant,
    order_id: int,
    *,
    actor: str,
    reason: str = "",
    customer_id: int | None = None,
) -> Order:
    """Cancel an order that was not paid, releasing its holds. ``customer_id``: only that
    customer's order (NotFound otherwise). Raises 409 ``illegal_order_transition``."""
    criteria: list[Any] = [Order.id == order_id]
    if customer_id is not None:
        criteria.append(Order.customer_id == customer_id)
    order = await lock_order(session, tenant, *criteria)
    check_move(order, order.status, S.CANCELLED)
    lines = await lines_of(session, tenant, order.id)
    await _cancel(session, tenant, order, lines, actor=actor, reason=reason or "cancelled")
    return order


async def due_unpaid(
    session: AsyncSession, now: datetime, *, limit: int = 100
) -> list[tuple[int, Tenant]]:
    """Unpaid orders (every merchant) whose time ran out: (order id, tenant), oldest first."""
    rows = await session.execute(
        select(Order.id, Merchant.id, Merchant.slug)
        .join(Merchant, Merchant.id == Order.merchant_id)
        .where(Order.status == S.CREATED.value, Order.expires_at <= now)
        .order_by(Order.id)
        .limit(limit)
    )
    return [(order_id, Tenant(merchant_id, slug)) for order_id, merchant_id, slug in rows.all()]


async def cancel_if_unpaid(
    session: AsyncSession, tenant: Tenant, order_id: int, now: datetime
) -> bool:
    """Cancel the order if it is still unpaid and its time ran out, releasing its holds;
    whether it did. The order is locked and re-checked, so one paid meanwhile is left
    alone. One order per transaction (the sweep's): holding one order's level locks while
    waiting for the next order's row is how a sweep and a payment would deadlock."""
    order = await lock_order(session, tenant, Order.id == order_id)
    if order.status != S.CREATED or order.expires_at is None or order.expires_at > now:
        return False
    lines = await lines_of(session, tenant, order.id)
    await _cancel(session, tenant, order, lines, actor="system", reason="unpaid")
    return True


async def unique_pickup_code(session: AsyncSession, tenant: Tenant) -> str:
    """A pickup code no other order of the merchant has (8 digits)."""
    for _ in range(20):
        code = f"{secrets.randbelow(10**8):08d}"
        taken = await session.scalar(
            select(Order.id).where(Order.merchant_id == tenant.id, Order.pickup_code == code)
        )
        if taken is None:
            return code
    raise Conflict("No free pickup code was found; try again")  # 10⁸ codes: not in practice
