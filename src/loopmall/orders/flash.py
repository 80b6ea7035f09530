"""Flash-sale orders (秒杀订单), made in batches.

The flash-sale gate has already decided who buys; this module only writes the orders of a
batch in as few statements as it can: one INSERT … RETURNING for the orders, one for their
lines, one hold per order placed in one call of ``inventory.holds.place_holds`` (one lock
of the sale's stock level, one INSERT of holds, one of ledger lines). The orders are
ordinary online mall orders afterwards: they expire after the pay-within time (the unpaid
sweep cancels them, releasing their holds), and the normal pay page pays them
(``orders.service.mark_paid`` consumes the hold).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant
from loopmall.inventory.holds import HoldLine, place_holds
from loopmall.inventory.rules import HoldReason
from loopmall.orders import hooks, stock
from loopmall.orders.models import Order, OrderLine
from loopmall.orders.rules import Fulfilment, OrderKind, OrderStatus, PaymentMethod
from loopmall.orders.steps import announce, record_step


@dataclass(frozen=True, slots=True)
class FlashItem:
    """What every order of one sale buys: the SKU, at the sale's price, from its stock."""

    sku_id: int
    sku_public_id: str
    title: str
    options_text: str
    unit_fen: int
    list_fen: int
    location_id: int  # where the sale's units were set aside
    reference: str  # the sale's public id, written on the holds


@dataclass(frozen=True, slots=True)
class FlashBuyer:
    customer_id: int
    quantity: int
    serial: int  # unique among flash orders (the ticket id): makes the order number


def flash_order_number(at: datetime, serial: int) -> str:
    """``YYYYMMDD`` (Shanghai) + ``F`` + the serial: unique without a lookup. Random
    numbers (checkout's 8 digits) would collide among 150,000 orders a day."""
    return clock.local(at).strftime("%Y%m%d") + f"F{serial:09d}"


async def create_flash_orders(
    session: AsyncSession,
    tenant: Tenant,
    *,
    item: FlashItem,
    buyers: Sequence[FlashBuyer],
    pay_within_seconds: int,
) -> list[Order]:
    """One unpaid delivery order per buyer, its units held at the sale's location until
    the pay-within time (plus the usual grace). Publishes ``order.created`` for each.
    Raises 409 ``insufficient_stock`` (nothing written) if the sale's location does not
    hold enough free units — the gate's counts make that a bug, never a race."""
    if not buyers:
        return []
    now = clock.now()
    expires = now + timedelta(seconds=pay_within_seconds)
    orders: list[Order] = []
    for buyer in buyers:
        total = item.unit_fen * buyer.quantity
        order = Order(
            merchant_id=tenant.id,
            public_id=new_public_id("ord"),
            number=flash_order_number(now, buyer.serial),
            kind=OrderKind.MALL.value,
            status=OrderStatus.CREATED.value,
            fulfilment=Fulfilment.DELIVERY.value,
            payment_method=PaymentMethod.ONLINE.value,
            customer_id=buyer.customer_id,
            location_id=item.location_id,
            items_fen=total,
            shipping_fen=0,
            total_fen=total,
            paid_fen=0,
            refunded_fen=0,
            description=item.title[:128],
            expires_at=expires,
            created_at=now,
            updated_at=now,
        )
        await hooks.run_before("create", session, tenant, order)
        orders.append(order)
    session.add_all(orders)
    await session.flush()  # one batched INSERT … RETURNING for the ids
    holds = await place_holds(
        session,
        tenant,
        [HoldLine(item.sku_id, item.location_id, b.quantity) for b in buyers],
        ttl=stock.hold_ttl(pay_within_seconds, cod=False),
        reason=HoldReason.ORDER,
        reference=item.reference,
        actor="system",
    )
    await session.execute(
        insert(OrderLine),
        [
            {
                "merchant_id": tenant.id,
                "order_id": order.id,
                "sku_id": item.sku_id,
                "hold_id": hold.id,
                "sku_public_id": item.sku_public_id,
                "title": item.title[:120],
                "options_text": item.options_text[:200],
                "unit_fen": item.unit_fen,
                "list_fen": item.list_fen,
                "price_rule": "flash_sale",
                "quantity": buyer.quantity,
                "line_fen": order.total_fen,
            }
            for order, hold, buyer in zip(orders, holds, buyers, strict=True)
        ],
    )
    for order in orders:
        record_step(session, order, None, actor="customer", amount_fen=order.total_fen)
        await hooks.run_after("create", session, tenant, order)
        await announce(session, tenant, order, "order.created")
    await session.flush()
    return orders
