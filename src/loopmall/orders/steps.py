"""Moving an order: the one path every change of status takes.

:func:`move` checks the move against ``rules.ORDERS``, runs the order hooks around it,
writes the timeline step and publishes the order event through the outbox, all in the
caller's transaction. :func:`lock_order` takes the order's row lock first, so two callers
moving one order (two payment callbacks, a callback and the unpaid-order sweep) serialise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant, scoped
from loopmall.orders import hooks
from loopmall.orders.events import (
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderEvent,
    OrderPaid,
    OrderReadyForPickup,
    OrderRefunded,
    OrderShipped,
)
from loopmall.orders.models import Order, OrderStep
from loopmall.orders.rules import Fulfilment, OrderStatus, check_move

S = OrderStatus

# The event announced when an order arrives in a status (none for the refund request and
# the return from it: nothing happened to the goods or the money yet).
EVENTS: dict[OrderStatus, type[OrderEvent]] = {
    S.CREATED: OrderCreated,
    S.PAID: OrderPaid,
    S.SHIPPED: OrderShipped,
    S.READY_FOR_PICKUP: OrderReadyForPickup,
    S.COMPLETED: OrderCompleted,
    S.CANCELLED: OrderCancelled,
    S.REFUNDED: OrderRefunded,
}

# The hook step a move belongs to.
HOOK_STEPS: dict[OrderStatus, hooks.Step] = {
    S.PAID: "pay",
    S.SHIPPED: "ship",
    S.READY_FOR_PICKUP: "ship",
    S.COMPLETED: "complete",
    S.CANCELLED: "cancel",
}


async def lock_order(
    session: AsyncSession, tenant: Tenant, *criteria: Any, missing: str = "No such order"
) -> Order:
    """The order matching ``criteria``, row-locked (``FOR UPDATE`` on PostgreSQL; SQLite's
    write transaction already holds the database lock) and re-read from the database."""
    stmt = (
        scoped(Order, tenant, *criteria).with_for_update().execution_options(populate_existing=True)
    )
    order: Order | None = await session.scalar(stmt)
    if order is None:
        raise NotFound(missing)
    return order


def payload(order: Order, **extra: Any) -> dict[str, Any]:
    """The JSON body of every order event."""
    body: dict[str, Any] = {
        "merchant_id": order.merchant_id,
        "order_id": order.id,
        "order_public_id": order.public_id,
        "number": order.number,
        "customer_id": order.customer_id,
        "status": order.status,
        "kind": order.kind,
        "fulfilment": order.fulfilment,
        "payment_method": order.payment_method,
        "store_id": order.store_id,
        "guide_staff_id": order.guide_staff_id,
        "total_fen": order.total_fen,
        "paid_fen": order.paid_fen,
        "refunded_fen": order.refunded_fen,
    }
    if order.fulfilment == Fulfilment.PICKUP and order.pickup_code:
        body["pickup_code"] = order.pickup_code
    body.update(extra)
    return body


def event_of(order: Order, kind: type[OrderEvent], **extra: Any) -> OrderEvent:
    """The ``kind`` event of ``order`` as it is now, with the step's own fields."""
    return kind(**payload(order, **extra))


async def announce(
    session: AsyncSession, order: Order, kind: type[OrderEvent], **extra: Any
) -> None:
    await publish(session, event_of(order, kind, **extra))


def record_step(
    session: AsyncSession,
    order: Order,
    from_status: str | None,
    *,
    actor: str,
    note: str = "",
    amount_fen: int | None = None,
) -> OrderStep:
    step = OrderStep(
        merchant_id=order.merchant_id,
        order_id=order.id,
        from_status=from_status,
        to_status=order.status,
        actor=actor[:60],
        note=note[:200],
        amount_fen=amount_fen,
        at=clock.now(),
    )
    session.add(step)
    return step


async def move(
    session: AsyncSession,
    tenant: Tenant,
    order: Order,
    target: OrderStatus,
    *,
    actor: str,
    note: str = "",
    amount_fen: int | None = None,
    paid_at: datetime | None = None,
    **event_extra: Any,
) -> None:
    """Move ``order`` to ``target``: check, hooks, timeline, event. ``paid_at``: when the
    money arrived (the provider's time) for a move to paid; now when not given. Raises
    409 ``illegal_order_transition`` when ``rules.ORDERS`` does not allow it; whatever a
    ``before`` hook raises."""
    check_move(order, order.status, target)
    step = HOOK_STEPS.get(target)
    if step is not None:
        await hooks.run_before(step, session, tenant, order)
    now = clock.now()
    previous = order.status
    order.status = target.value
    order.updated_at = now
    if target is S.PAID:
        order.paid_at = paid_at or now
    elif target is S.COMPLETED:
        order.completed_at = now
    elif target is S.CANCELLED:
        order.cancelled_at = now
        order.expires_at = None
    elif target is S.REFUND_REQUESTED:
        order.refund_from = previous
    if previous == S.REFUND_REQUESTED:
        order.refund_from = None
    record_step(session, order, previous, actor=actor, note=note, amount_fen=amount_fen)
    if step is not None:
        await hooks.run_after(step, session, tenant, order)
    kind = EVENTS.get(target)
    if kind is not None:
        await announce(session, order, kind, **event_extra)
    await session.flush()
