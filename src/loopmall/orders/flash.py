"""Flash-sale orders (秒杀订单), made in batches.

The flash-sale gate has already decided who buys; this module only writes the orders of a
batch in as few statements as it can: the orders in one batched INSERT … RETURNING, their
lines, timeline steps and ``order.created`` events in one executemany each.

No hold is placed: the sale's units were moved to a location of the sale's own when it
was set up, and the sale's stock buckets already count each unpaid order's unit, so a
hold would only repeat that count — on one stock-level row that every batch would lock
(the ceiling of two consumers). The orders are ordinary online mall orders afterwards:
they expire after the pay-within time (the unpaid sweep cancels them), and the normal pay
page pays them: ``orders.service.mark_paid`` finds no hold on the line and takes the unit
from the sale's location then (``orders.stock.sell_lines``), where it is always free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant
from loopmall.orders import hooks
from loopmall.orders.events import OrderCreated
from loopmall.orders.models import Order, OrderLine, OrderStep
from loopmall.orders.rules import Fulfilment, OrderKind, OrderStatus, PaymentMethod
from loopmall.orders.steps import event_of


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
    """One unpaid delivery order per buyer, to be paid within ``pay_within_seconds``, at
    the item's price; its unit is taken from the sale's location when it is paid.
    Publishes ``order.created`` for each."""
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
    await session.execute(
        insert(OrderLine),
        [
            {
                "merchant_id": tenant.id,
                "order_id": order.id,
                "sku_id": item.sku_id,
                "hold_id": None,
                "sku_public_id": item.sku_public_id,
                "title": item.title[:120],
                "options_text": item.options_text[:200],
                "unit_fen": item.unit_fen,
                "list_fen": item.list_fen,
                "price_rule": "flash_sale",
                "quantity": buyer.quantity,
                "line_fen": order.total_fen,
            }
            for order, buyer in zip(orders, buyers, strict=True)
        ],
    )
    # What ``steps.record_step`` writes, in one statement for the batch (as ``publish``
    # below): a statement per order was a quarter of a 200-order batch's time.
    await session.execute(
        insert(OrderStep),
        [
            {
                "merchant_id": tenant.id,
                "order_id": order.id,
                "from_status": None,
                "to_status": order.status,
                "actor": "customer",
                "note": "",
                "amount_fen": order.total_fen,
                "at": now,
            }
            for order in orders
        ],
    )
    for order in orders:
        await hooks.run_after("create", session, tenant, order)
    await publish(session, *(event_of(order, OrderCreated) for order in orders))
    return orders
