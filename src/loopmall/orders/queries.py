"""Reading orders: lists with filters (newest first, by cursor) and one order in full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.errors import NotFound, OutOfRange, ValidationFailed
from loopmall.core.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.valueset import one_of
from loopmall.merchants.models import Store
from loopmall.orders.models import Order, OrderLine, OrderRefund, OrderStep
from loopmall.orders.rules import OrderStatus


@dataclass(frozen=True)
class OrderFilters:
    status: OrderStatus | None = None
    store_id: int | None = None
    customer_id: int | None = None
    kind: str | None = None
    q: str | None = None  # order number, pickup code or recipient phone
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True)
class OrderDetail:
    order: Order
    lines: list[OrderLine]
    steps: list[OrderStep]
    refunds: list[OrderRefund]
    store_public_id: str | None
    store_name: str | None


def _filter_criteria(
    tenant: Tenant, filters: OrderFilters, store_ids: frozenset[int] | None
) -> list[Any]:
    """The WHERE terms of the filters (and of the stores the caller may see)."""
    criteria: list[Any] = []
    if store_ids is not None:
        criteria.append(one_of(Order.store_id, store_ids))
    if filters.status is not None:
        criteria.append(Order.status == filters.status.value)
    if filters.store_id is not None:
        criteria.append(Order.store_id == filters.store_id)
    if filters.customer_id is not None:
        criteria.append(Order.customer_id == filters.customer_id)
    if filters.kind:
        criteria.append(Order.kind == filters.kind)
    if filters.q:
        criteria.append(_number_pickup_code_or_phone(tenant, filters.q.strip()))
    if filters.created_from is not None:
        criteria.append(Order.created_at >= filters.created_from)
    if filters.created_to is not None:
        criteria.append(Order.created_at < filters.created_to)
    return criteria


def _number_pickup_code_or_phone(tenant: Tenant, q: str) -> Any:
    # Each key through its own index (the phone's: migration 0024). As one OR the
    # planners walked every order of the merchant (issue #11, chain scale).
    return Order.id.in_(
        union(
            *(
                select(Order.id).where(Order.merchant_id == tenant.id, key == q)
                for key in (Order.number, Order.pickup_code, Order.recipient_phone)
            )
        )
    )


def _before(cursor: str) -> int:
    """The order id a next-page cursor carries (422 when it is not one)."""
    before = decode_cursor(cursor)
    if not isinstance(before, int) or isinstance(before, bool) or not 0 < before < 2**63:
        raise ValidationFailed("The cursor is not valid", field="cursor")
    return before


async def list_orders(
    session: AsyncSession,
    tenant: Tenant,
    filters: OrderFilters,
    *,
    store_ids: frozenset[int] | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Order], str | None]:
    """Orders, newest first. ``store_ids``: only orders of those stores (a store's
    staff); None: all. Raises 422 for a bad cursor or limit."""
    if not 1 <= limit <= MAX_LIMIT:
        raise OutOfRange(
            f"limit must be between 1 and {MAX_LIMIT}", field="limit", low=1, high=MAX_LIMIT
        )
    criteria = _filter_criteria(tenant, filters, store_ids)
    if cursor:
        criteria.append(Order.id < _before(cursor))
    stmt = scoped(Order, tenant, *criteria).order_by(Order.id.desc()).limit(limit + 1)
    rows = list((await session.scalars(stmt)).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].id)
    return rows, next_cursor


async def order_detail(
    session: AsyncSession,
    tenant: Tenant,
    public_id: str,
    *,
    customer_id: int | None = None,
    store_ids: frozenset[int] | None = None,
) -> OrderDetail:
    """One order with its lines, timeline and refunds. NotFound for another merchant's,
    another customer's (``customer_id``) or another store's (``store_ids``) order."""
    criteria: list[Any] = [Order.public_id == public_id]
    if customer_id is not None:
        criteria.append(Order.customer_id == customer_id)
    order: Order | None = await session.scalar(scoped(Order, tenant, *criteria))
    if order is None or (store_ids is not None and order.store_id not in store_ids):
        raise NotFound("No such order")
    lines = await session.scalars(
        scoped(OrderLine, tenant, OrderLine.order_id == order.id).order_by(OrderLine.id)
    )
    steps = await session.scalars(
        scoped(OrderStep, tenant, OrderStep.order_id == order.id).order_by(OrderStep.id)
    )
    refunds = await session.scalars(
        scoped(OrderRefund, tenant, OrderRefund.order_id == order.id).order_by(OrderRefund.id)
    )
    store_public_id = store_name = None
    if order.store_id is not None:
        row = (
            await session.execute(
                select(Store.public_id, Store.name).where(Store.id == order.store_id)
            )
        ).first()
        if row is not None:
            store_public_id, store_name = row
    return OrderDetail(
        order,
        list(lines.all()),
        list(steps.all()),
        list(refunds.all()),
        store_public_id,
        store_name,
    )


async def stores_by_id(
    session: AsyncSession, tenant: Tenant, ids: set[int]
) -> dict[int, tuple[str, str]]:
    """Store id → (public id, name), for the stores of a list of orders."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Store.id, Store.public_id, Store.name).where(
            Store.merchant_id == tenant.id, Store.id.in_(ids)
        )
    )
    return {sid: (public_id, name) for sid, public_id, name in rows.all()}


async def first_lines(
    session: AsyncSession, tenant: Tenant, order_ids: list[int]
) -> dict[int, list[OrderLine]]:
    """The lines of several orders at once (for lists)."""
    if not order_ids:
        return {}
    rows = await session.scalars(
        scoped(OrderLine, tenant, OrderLine.order_id.in_(order_ids)).order_by(OrderLine.id)
    )
    out: dict[int, list[OrderLine]] = {}
    for line in rows.all():
        out.setdefault(line.order_id, []).append(line)
    return out
