"""Crediting orders: read a batch of orders, their customers' touches and bindings in a few
queries, run the rule engine, write the credits and announce them.

Published: ``attribution.credited`` with ``{merchant_id, order_id, order_public_id,
customer_id, amount_fen, credits: [{credit_id, role, store_id, guide_staff_id,
sharer_customer_id, channel_id, share_id, rule}]}`` — one event per credited order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution.models import Binding, Credit, Touch
from loopmall.attribution.rulebook import get_rules
from loopmall.attribution.rules import BindingFact, CreditFact, OrderFact, TouchFact, attribute
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant
from loopmall.orders.models import Order

CREDITED_TOPIC = "attribution.credited"
# SQLite allows 32,766 bound parameters per statement; PostgreSQL 65,535.
IN_CHUNK = 5_000


def _chunks(values: Sequence[int], size: int = IN_CHUNK) -> list[Sequence[int]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def credited_amount(paid_fen: int, total_fen: int) -> int:
    """What an order is credited with: what was paid online, else (cash, store sale) its total."""
    return paid_fen if paid_fen > 0 else total_fen


async def _orders(session: AsyncSession, tenant: Tenant, order_ids: Sequence[int]) -> list[Any]:
    rows: list[Any] = []
    for chunk in _chunks(order_ids):
        rows.extend(
            await session.execute(
                select(
                    Order.id,
                    Order.public_id,
                    Order.kind,
                    Order.customer_id,
                    Order.store_id,
                    Order.guide_staff_id,
                    Order.total_fen,
                    Order.paid_fen,
                    Order.created_at,
                ).where(Order.merchant_id == tenant.id, Order.id.in_(chunk))
            )
        )
    return sorted(rows, key=lambda r: r.id)


async def _already_credited(
    session: AsyncSession, tenant: Tenant, order_ids: Sequence[int]
) -> set[int]:
    done: set[int] = set()
    for chunk in _chunks(order_ids):
        done.update(
            await session.scalars(
                select(Credit.order_id)
                .where(Credit.merchant_id == tenant.id, Credit.order_id.in_(chunk))
                .distinct()
            )
        )
    return done


async def _touches(
    session: AsyncSession, tenant: Tenant, orders: Sequence[Any], window_days: int
) -> dict[int, list[TouchFact]]:
    """The touches of the batch's customers in one query per chunk of customers, bounded by
    the earliest window start and the latest order time (the index on (merchant_id,
    customer_id, at) serves it)."""
    customers = sorted({o.customer_id for o in orders if o.customer_id is not None})
    by_customer: dict[int, list[TouchFact]] = defaultdict(list)
    if not customers:
        return by_customer
    start = min(o.created_at for o in orders) - timedelta(days=window_days)
    end = max(o.created_at for o in orders)
    cols = (
        Touch.id,
        Touch.customer_id,
        Touch.kind,
        Touch.at,
        Touch.channel_id,
        Touch.store_id,
        Touch.guide_staff_id,
        Touch.share_id,
        Touch.sharer_customer_id,
        Touch.upstream_sharer_customer_id,
        Touch.placement,
    )
    for chunk in _chunks(customers):
        result = await session.execute(
            select(*cols).where(
                Touch.merchant_id == tenant.id,
                Touch.customer_id.in_(chunk),
                Touch.at >= start,
                Touch.at <= end,
            )
        )
        for r in result:
            by_customer[r.customer_id].append(
                TouchFact(
                    id=r.id,
                    kind=r.kind,
                    at=r.at,
                    channel_id=r.channel_id,
                    store_id=r.store_id,
                    guide_staff_id=r.guide_staff_id,
                    share_id=r.share_id,
                    sharer_customer_id=r.sharer_customer_id,
                    upstream_sharer_customer_id=r.upstream_sharer_customer_id,
                    placement=r.placement,
                )
            )
    return by_customer


async def _bindings(
    session: AsyncSession, tenant: Tenant, orders: Sequence[Any]
) -> dict[int, BindingFact]:
    customers = sorted({o.customer_id for o in orders if o.customer_id is not None})
    found: dict[int, BindingFact] = {}
    for chunk in _chunks(customers):
        result = await session.execute(
            select(
                Binding.customer_id,
                Binding.store_id,
                Binding.guide_staff_id,
                Binding.last_contact_at,
            ).where(Binding.merchant_id == tenant.id, Binding.customer_id.in_(chunk))
        )
        for r in result:
            found[r.customer_id] = BindingFact(r.store_id, r.guide_staff_id, r.last_contact_at)
    return found


def _row(tenant: Tenant, order: Any, credit: CreditFact, amount: int) -> dict[str, Any]:
    return {
        "merchant_id": tenant.id,
        "public_id": new_public_id("cr"),
        "order_id": order.id,
        "customer_id": order.customer_id,
        "role": credit.role.value,
        "store_id": credit.store_id,
        "guide_staff_id": credit.guide_staff_id,
        "sharer_customer_id": credit.sharer_customer_id,
        "channel_id": credit.channel_id,
        "share_id": credit.share_id,
        "placement": credit.placement,
        "amount_fen": amount,
        "rule": credit.rule,
        "touch_id": credit.touch_id,
        "at": order.created_at,
    }


def _event_credit(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("role", "store_id", "guide_staff_id", "sharer_customer_id", "channel_id", "share_id")
    return {"credit_id": row["id"], **{k: row[k] for k in keys}, "rule": row["rule"]}


async def credit_orders(
    session: AsyncSession, tenant: Tenant, order_ids: Sequence[int], *, announce: bool = True
) -> dict[int, list[Credit]]:
    """Credit a batch of orders by the merchant's rules; returns the new credits by order.

    Orders already credited (and ids of other merchants) are skipped, so it is idempotent.
    With ``announce`` each credited order publishes ``attribution.credited``.
    """
    ids = sorted(set(order_ids))
    orders = await _orders(session, tenant, ids)
    done = await _already_credited(session, tenant, ids)
    orders = [o for o in orders if o.id not in done]
    if not orders:
        return {}
    rules = await get_rules(session, tenant)
    touches = await _touches(session, tenant, orders, rules.window_days)
    bindings = await _bindings(session, tenant, orders)
    rows: list[dict[str, Any]] = []
    for order in orders:
        fact = OrderFact(
            id=order.id,
            kind=order.kind,
            at=order.created_at,
            customer_id=order.customer_id,
            store_id=order.store_id,
            guide_staff_id=order.guide_staff_id,
        )
        customer = order.customer_id
        facts = attribute(
            fact,
            touches.get(customer, []) if customer is not None else [],
            bindings.get(customer) if customer is not None else None,
            rules,
        )
        amount = credited_amount(order.paid_fen, order.total_fen)
        rows.extend(_row(tenant, order, c, amount) for c in facts)
    if not rows:
        return {}
    inserted = list(await session.scalars(insert(Credit).returning(Credit), rows))
    by_order: dict[int, list[Credit]] = defaultdict(list)
    for credit in inserted:
        by_order[credit.order_id].append(credit)
    if announce:
        public = {o.id: o for o in orders}
        for order_id, credits in sorted(by_order.items()):
            order = public[order_id]
            await publish(
                session,
                CREDITED_TOPIC,
                {
                    "merchant_id": tenant.id,
                    "order_id": order_id,
                    "order_public_id": order.public_id,
                    "customer_id": order.customer_id,
                    "amount_fen": credits[0].amount_fen,
                    "credits": [_event_credit(_as_dict(c)) for c in credits],
                },
                tenant,
            )
    return dict(by_order)


def _as_dict(credit: Credit) -> dict[str, Any]:
    return {
        "id": credit.id,
        "role": credit.role,
        "store_id": credit.store_id,
        "guide_staff_id": credit.guide_staff_id,
        "sharer_customer_id": credit.sharer_customer_id,
        "channel_id": credit.channel_id,
        "share_id": credit.share_id,
        "rule": credit.rule,
    }


async def credit_order(session: AsyncSession, tenant: Tenant, order_id: int) -> list[Credit]:
    """Credit one order (idempotent: an order already credited returns its credits and
    publishes nothing new)."""
    new = await credit_orders(session, tenant, [order_id])
    if order_id in new:
        return new[order_id]
    return list(
        await session.scalars(
            select(Credit)
            .where(Credit.merchant_id == tenant.id, Credit.order_id == order_id)
            .order_by(Credit.id)
        )
    )
