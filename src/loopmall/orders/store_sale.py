"""A store sale: a guide sells an item they held for a customer, paid at the till (ADR 0008).

Three steps, each by whoever has the right to it:

1. :func:`create_store_sale` — the guide rings the sale up. The unit price comes from the
   price pipeline for the store's channel (the member price for a member), never from the
   guide; the guide may ask for a discount off it (``store_discount``), which the
   merchant's cap decides. The order is born ``created``, unpaid; the held units stay held.
2. :func:`approve_discount` / :func:`decline_discount` — a discount beyond the cap waits
   for someone with ``orders.discount_approve`` (not the guide who gave it), from their
   own login: the guide can not approve on their own behalf.
3. :func:`record_till_receipt` — someone who may take money (``orders.fulfil``: the
   cashier, a store manager) records the amount received: it must be the sale's total.
   Only then is the order ``paid`` (attribution credits the paid amount on ``order.paid``)
   and ``completed``, and the held units sold.

Why not complete at once, as before: a guide could mint any price and earn commission on
an order nobody paid for (issue #11, case 1). Commission follows money received.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Product, Sku
from loopmall.catalog.prices import quote_sku
from loopmall.catalog.pricing import Channel
from loopmall.core import clock
from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.valueset import one_of
from loopmall.inventory.locations import location_for_store
from loopmall.inventory.models import Hold, StockLevel
from loopmall.members.service import is_member
from loopmall.merchants.mall import guide_discount_cap
from loopmall.merchants.models import Store
from loopmall.orders import hooks, stock
from loopmall.orders.events import OrderCreated
from loopmall.orders.models import Order, OrderLine
from loopmall.orders.rules import Fulfilment, OrderKind, OrderStatus, PaymentMethod
from loopmall.orders.service import cancel_order, lines_of, new_order_number
from loopmall.orders.steps import announce, lock_order, move, record_step
from loopmall.orders.store_discount import (
    DiscountApproval,
    DiscountAsk,
    DiscountNotApproved,
    DiscountNotPending,
    SelfApproval,
    TillAmountMismatch,
    approval_for,
    unit_after,
)

MISSING = "No such store sale"


def _options_text(options: dict[str, object]) -> str:
    return " / ".join(str(v) for v in options.values())[:200]


async def create_store_sale(  # noqa: PLR0913 (keyword-only, named at every call)
    session: AsyncSession,
    tenant: Tenant,
    *,
    customer_id: int,
    store_id: int,
    guide_staff_id: int,
    hold_id: int,
    sku_id: int,
    quantity: int,
    discount: DiscountAsk | None = None,
    given_by_staff_id: int | None = None,
    actor: str = "guide",
) -> Order:
    """Ring up ``quantity`` of the SKU held by inventory hold ``hold_id`` at the store: an
    unpaid order of kind ``store_sale`` at the store channel's price for this customer,
    less the ``discount`` asked for by ``given_by_staff_id`` (recorded on the line, with
    its approval: ``within_cap``, or ``pending`` beyond the merchant's cap).

    Raises 422 ``discount_invalid``, 422 for a bad quantity, 404 for another merchant's
    SKU/store/hold or a hold of another SKU, ``not_for_sale``/``not_sold_in_channel`` for
    an item the store may not sell."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 99:
        raise ValidationFailed("quantity must be a whole number from 1 to 99", field="quantity")
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
    store = await session.scalar(scoped(Store, tenant, Store.id == store_id))
    if store is None:
        raise NotFound("No such store")
    location = await location_for_store(session, tenant, store_id)
    hold = await session.scalar(
        scoped(Hold, tenant, Hold.id == hold_id)
        .join(StockLevel, StockLevel.id == Hold.stock_level_id)
        .where(StockLevel.sku_id == sku.id, StockLevel.location_id == location.id)
    )
    if hold is None or hold.quantity != quantity:
        raise NotFound("No such hold for this item")
    quote = await quote_sku(
        session,
        tenant,
        sku.public_id,
        channel=Channel.STORE,
        store_public_id=store.public_id,
        is_member=await is_member(session, tenant, customer_id),
    )
    price = quote.amount
    unit = unit_after(price, discount) if discount is not None else price
    approval = approval_for(price, unit, await guide_discount_cap(session, tenant))
    now = clock.now()
    total = unit * quantity
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
            hold_id=hold_id,  # sold when the till records the money, released on cancel
            sku_public_id=sku.public_id,
            title=product.title[:120],
            options_text=_options_text(sku.options or {}),
            unit_fen=unit,
            list_fen=quote.list_price,
            price_rule=f"store_sale:{quote.rule}"[:40],
            quantity=quantity,
            line_fen=total,
            discount_fen=(price - unit) * quantity,
            discount_approval=approval.value,
            discount_by_staff_id=given_by_staff_id
            if approval is not DiscountApproval.NONE
            else None,
        )
    )
    note = "discount waits for approval" if approval is DiscountApproval.PENDING else ""
    record_step(session, order, None, actor=actor, note=note, amount_fen=total)
    await hooks.run_after("create", session, tenant, order)
    await announce(session, order, OrderCreated)
    await session.flush()
    return order


async def _lock_sale(
    session: AsyncSession, tenant: Tenant, public_id: str, store_ids: frozenset[int] | None
) -> Order:
    """The store sale, locked; another store's (for a store-bound caller) is 404 like an
    unknown one."""
    criteria = [Order.public_id == public_id, Order.kind == OrderKind.STORE_SALE.value]
    if store_ids is not None:
        criteria.append(one_of(Order.store_id, store_ids))
    return await lock_order(session, tenant, *criteria, missing=MISSING)


async def get_store_sale(
    session: AsyncSession, tenant: Tenant, public_id: str, *, store_ids: frozenset[int] | None
) -> tuple[Order, list[OrderLine]]:
    """The store sale and its lines, in the caller's stores; NotFound otherwise."""
    criteria = [Order.public_id == public_id, Order.kind == OrderKind.STORE_SALE.value]
    if store_ids is not None:
        criteria.append(one_of(Order.store_id, store_ids))
    order = await session.scalar(scoped(Order, tenant, *criteria))
    if order is None:
        raise NotFound(MISSING)
    return order, await lines_of(session, tenant, order.id)


async def approve_discount(
    session: AsyncSession,
    tenant: Tenant,
    public_id: str,
    *,
    approver_staff_id: int,
    store_ids: frozenset[int] | None,
    actor: str,
) -> Order:
    """Approve the discount of an unpaid store sale that waits for it. The caller checked
    ``orders.discount_approve``; this checks the approver is neither the guide of the
    sale nor who gave the discount (403 ``discount_self_approval``). Raises 404 for a
    sale outside ``store_ids``, 409 ``discount_not_pending`` when nothing waits."""
    order = await _lock_sale(session, tenant, public_id, store_ids)
    lines = await lines_of(session, tenant, order.id)
    pending = [x for x in lines if x.discount_approval == DiscountApproval.PENDING]
    if order.status != OrderStatus.CREATED or not pending:
        raise DiscountNotPending("This sale has no discount waiting for approval")
    givers = {order.guide_staff_id, *(x.discount_by_staff_id for x in pending)}
    if approver_staff_id in givers:
        raise SelfApproval("Another person with the right approves this discount")
    for line in pending:
        line.discount_approval = DiscountApproval.APPROVED.value
        line.discount_approved_by_staff_id = approver_staff_id
    record_step(session, order, order.status, actor=actor, note="discount approved")
    order.updated_at = clock.now()
    await session.flush()
    return order


async def decline_discount(
    session: AsyncSession,
    tenant: Tenant,
    public_id: str,
    *,
    store_ids: frozenset[int] | None,
    actor: str,
) -> Order:
    """Decline a discount that waits for approval: the sale is cancelled (the customer
    agreed to that price, not another) and the held units go back. Raises 404, 409
    ``discount_not_pending``."""
    order = await _lock_sale(session, tenant, public_id, store_ids)
    lines = await lines_of(session, tenant, order.id)
    if order.status != OrderStatus.CREATED or not any(
        x.discount_approval == DiscountApproval.PENDING for x in lines
    ):
        raise DiscountNotPending("This sale has no discount waiting for approval")
    return await cancel_order(session, tenant, order.id, actor=actor, reason="discount declined")


async def record_till_receipt(
    session: AsyncSession,
    tenant: Tenant,
    public_id: str,
    *,
    amount_fen: int,
    store_ids: frozenset[int] | None,
    actor: str,
) -> Order:
    """The till received ``amount_fen`` for the store sale: the held units are sold, the
    order becomes ``paid`` (``paid_fen`` = the amount; attribution credits it) and
    ``completed``. The caller checked the right to take money (``orders.fulfil``).

    Raises 404 for a sale outside ``store_ids``, 409 ``discount_not_approved`` while a
    discount waits, 422 ``till_amount_mismatch`` when the amount is not the total, 409
    ``illegal_order_transition`` for a sale already paid or cancelled, 409
    ``insufficient_stock`` when the hold lapsed and the units are gone."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise ValidationFailed("amount_fen must be a whole number", field="amount_fen")
    order = await _lock_sale(session, tenant, public_id, store_ids)
    lines = await lines_of(session, tenant, order.id)
    if order.status == OrderStatus.CREATED and any(
        x.discount_approval == DiscountApproval.PENDING for x in lines
    ):
        raise DiscountNotApproved(
            "The discount is beyond the merchant's cap: a manager approves it first"
        )
    if order.status == OrderStatus.CREATED and amount_fen != order.total_fen:
        raise TillAmountMismatch(
            "The amount received is not the sale's total",
            field="amount_fen",
            total_fen=order.total_fen,
        )
    if order.status == OrderStatus.CREATED:
        await stock.sell_lines(session, tenant, order, lines)
        order.paid_fen = amount_fen
    await move(session, tenant, order, OrderStatus.PAID, actor=actor, amount_fen=amount_fen)
    await move(session, tenant, order, OrderStatus.COMPLETED, actor=actor, note="store_sale")
    return order


async def unpaid_store_sales(
    session: AsyncSession, tenant: Tenant, *, store_ids: frozenset[int] | None, limit: int = 50
) -> list[tuple[Order, list[OrderLine]]]:
    """Store sales rung up and not yet paid, in the caller's stores, newest first (at most
    ``limit``): what the till and the approvers have to act on."""
    criteria = [
        Order.kind == OrderKind.STORE_SALE.value,
        Order.status == OrderStatus.CREATED.value,
    ]
    if store_ids is not None:
        criteria.append(one_of(Order.store_id, store_ids))
    orders = list(
        (
            await session.scalars(
                scoped(Order, tenant, *criteria).order_by(Order.id.desc()).limit(limit)
            )
        ).all()
    )
    if not orders:
        return []
    lines = (
        await session.scalars(
            scoped(OrderLine, tenant, OrderLine.order_id.in_([o.id for o in orders])).order_by(
                OrderLine.id
            )
        )
    ).all()
    by_order: dict[int, list[OrderLine]] = {o.id: [] for o in orders}
    for line in lines:
        by_order[line.order_id].append(line)
    return [(o, by_order[o.id]) for o in orders]
