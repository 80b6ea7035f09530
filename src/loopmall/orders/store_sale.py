"""A store sale: a guide sells an item they held for a customer, paid at the till.

The order is born ``created`` and moves at once to ``completed`` (the one move
``rules.MOVES`` allows for this kind): the customer paid in the store and takes the item
with them, so it is never paid online, shipped or refunded through a provider. The guide's
inventory hold is consumed in the same transaction. Publishes ``order.created`` and
``order.completed`` (attribution credits the order on completion).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Product, Sku
from loopmall.core import clock
from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.inventory.holds import consume_hold
from loopmall.inventory.locations import location_for_store
from loopmall.inventory.models import Hold, StockLevel
from loopmall.orders import hooks
from loopmall.orders.models import Order, OrderLine
from loopmall.orders.rules import Fulfilment, OrderKind, OrderStatus, PaymentMethod
from loopmall.orders.service import new_order_number
from loopmall.orders.steps import announce, move, record_step

MAX_UNIT_FEN = 100_000_000


def _options_text(options: dict[str, object]) -> str:
    return " / ".join(str(v) for v in options.values())[:200]


async def create_store_sale(
    session: AsyncSession,
    tenant: Tenant,
    *,
    customer_id: int,
    store_id: int,
    guide_staff_id: int,
    hold_id: int,
    sku_id: int,
    quantity: int,
    unit_fen: int,
    actor: str = "guide",
) -> Order:
    """Sell ``quantity`` of the SKU held by inventory hold ``hold_id`` at the store, for
    ``unit_fen`` each, paid at the till: an order of kind ``store_sale``, completed, with
    ``paid_fen`` = its total and the store and guide on it. Raises 422 for a bad quantity
    or price, 404 for another merchant's SKU/store/hold or a hold of another SKU, 409
    ``illegal_transition`` when the hold is no longer active (released, sold or lapsed)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 99:
        raise ValidationFailed("quantity must be a whole number from 1 to 99", field="quantity")
    if isinstance(unit_fen, bool) or not isinstance(unit_fen, int):
        raise ValidationFailed("unit_fen must be a whole number", field="unit_fen")
    if not 0 <= unit_fen <= MAX_UNIT_FEN:
        raise ValidationFailed("unit_fen is out of range", field="unit_fen")
    row = (
        await session.execute(
            select(Sku, Product)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.merchant_id == tenant.id, Sku.id == sku_id)
        )
    ).first()
    if row is None:
        raise NotFound("No such SKU")
    sku, product = row
    location = await location_for_store(session, tenant, store_id)
    hold = await session.scalar(
        scoped(Hold, tenant, Hold.id == hold_id)
        .join(StockLevel, StockLevel.id == Hold.stock_level_id)
        .where(StockLevel.sku_id == sku.id, StockLevel.location_id == location.id)
    )
    if hold is None or hold.quantity != quantity:
        raise NotFound("No such hold for this item")
    now = clock.now()
    total = unit_fen * quantity
    order = Order(
        merchant_id=tenant.id,
        public_id=new_public_id("ord"),
        number=new_order_number(),
        kind=OrderKind.STORE_SALE.value,
        status=OrderStatus.CREATED.value,
        fulfilment=Fulfilment.NONE.value,
        payment_method=PaymentMethod.COD.value,  # paid at the till, never online
        customer_id=customer_id,
        store_id=store_id,
        guide_staff_id=guide_staff_id,
        location_id=location.id,
        items_fen=total,
        shipping_fen=0,
        total_fen=total,
        paid_fen=0,
        refunded_fen=0,
        description=product.title[:128],
        expires_at=None,
        created_at=now,
        updated_at=now,
    )
    await hooks.run_before("create", session, tenant, order)
    session.add(order)
    await session.flush()
    session.add(
        OrderLine(
            merchant_id=tenant.id,
            order_id=order.id,
            sku_id=sku.id,
            hold_id=hold_id,
            sku_public_id=sku.public_id,
            title=product.title[:120],
            options_text=_options_text(sku.options or {}),
            unit_fen=unit_fen,
            list_fen=sku.price,
            price_rule="store_sale",
            quantity=quantity,
            line_fen=total,
        )
    )
    record_step(session, order, None, actor=actor, amount_fen=total)
    await hooks.run_after("create", session, tenant, order)
    await announce(session, tenant, order, "order.created")
    await consume_hold(session, tenant, hold_id, actor=actor, reason=order.public_id)
    order.paid_fen = total
    await move(session, tenant, order, OrderStatus.COMPLETED, actor=actor, note="store_sale")
    return order
