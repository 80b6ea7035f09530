"""Checkout: the cart becomes an order, its units held until it is paid (or lapses).

Delivery orders hold units in the online stock (the default warehouse) at online prices;
pickup (自提) orders hold them at the chosen store at that store's prices and get a pickup
code; cash on delivery is offered where the mall enables it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, insert, or_
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import NotFound, OutOfRange, TooLong, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.text import check_text
from loopmall.inventory.locations import default_warehouse, location_for_store
from loopmall.merchants.mall import get_mall_settings
from loopmall.merchants.models import Store
from loopmall.orders import hooks, stock
from loopmall.orders.cart import CartView, clear_lines, view_cart
from loopmall.orders.events import OrderCreated
from loopmall.orders.models import Order, OrderLine
from loopmall.orders.queries import OrderDetail
from loopmall.orders.rules import (
    AddressRequired,
    CartEmpty,
    CodNotEnabled,
    Fulfilment,
    LinesUnavailable,
    OrderKind,
    OrderStatus,
    PaymentMethod,
    PickupNotAvailable,
)
from loopmall.orders.service import new_order_number, unique_pickup_code
from loopmall.orders.steps import announce, record_step


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    phone: str
    address: str


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    fulfilment: Fulfilment | str
    payment_method: PaymentMethod | str = PaymentMethod.ONLINE
    address: Address | None = None
    store_public_id: str | None = None
    note: str = ""


def _text(
    value: str, field: str, max_length: int, *, required: bool, multiline: bool = False
) -> str:
    value = check_text(value.strip(), field=field, multiline=multiline)
    if (required and not value) or len(value) > max_length:
        raise TooLong(
            f"{field} must be up to {max_length} characters", field=field, most=max_length
        )
    return value


def _clean_address(address: Address | None) -> Address:
    if address is None or not (
        address.name.strip() and address.phone.strip() and address.address.strip()
    ):
        raise AddressRequired()
    return Address(
        _text(address.name, "name", 50, required=True),
        _text(address.phone, "phone", 30, required=True),
        _text(address.address, "address", 255, required=True, multiline=True),
    )


async def pickup_store(session: AsyncSession, tenant: Tenant, store_public_id: str) -> Store:
    """An open store of the merchant that offers pickup. NotFound / 422
    ``pickup_not_available``."""
    store: Store | None = await session.scalar(
        scoped(Store, tenant, Store.public_id == store_public_id)
    )
    if store is None:
        raise NotFound("No such store", store=store_public_id)
    if not store.pickup_enabled or store.status != "open":
        raise PickupNotAvailable(store=store_public_id)
    return store


PICKUP_PAGE = 20


def _pickup_open(tenant: Tenant) -> Any:
    return scoped(Store, tenant, Store.pickup_enabled.is_(True), Store.status == "open")


async def pickup_stores(
    session: AsyncSession,
    tenant: Tenant,
    *,
    q: str = "",
    cursor: str | None = None,
    limit: int = PICKUP_PAGE,
) -> tuple[list[Store], str | None]:
    """A page of the merchant's open stores that offer pickup, by name (``q`` searches the
    name, city, district and address); returns (stores, next cursor). Never every store: a
    chain has tens of thousands. Raises ``validation_failed`` for a bad cursor or limit."""
    if limit < 1 or limit > MAX_LIMIT:
        raise OutOfRange(
            f"limit must be between 1 and {MAX_LIMIT}", field="limit", low=1, high=MAX_LIMIT
        )
    stmt = _pickup_open(tenant)
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                *(
                    column.ilike(like, escape="\\")
                    for column in (Store.name, Store.city, Store.district, Store.address)
                )
            )
        )
    if cursor:
        after = decode_cursor(cursor)
        if (
            not isinstance(after, list)
            or len(after) != 2
            or not isinstance(after[0], str)
            or not isinstance(after[1], int)
            or isinstance(after[1], bool)
            or not 0 <= after[1] < 2**63
        ):
            raise ValidationFailed("The cursor is not valid", field="cursor")
        stmt = stmt.where(
            or_(Store.name > after[0], and_(Store.name == after[0], Store.id > after[1]))
        )
    rows = list((await session.scalars(stmt.order_by(Store.name, Store.id).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor([rows[-1].name, rows[-1].id])


async def find_pickup_store(session: AsyncSession, tenant: Tenant, public_id: str) -> Store | None:
    """The open pickup store with this public id, if there is one (None otherwise)."""
    if not public_id:
        return None
    store: Store | None = await session.scalar(
        _pickup_open(tenant).where(Store.public_id == public_id)
    )
    return store


def _describe(view: CartView) -> str:
    first = view.lines[0].title
    more = len(view.lines) - 1
    return (f"{first} 等{len(view.lines)}件" if more else first)[:128]


@dataclass(frozen=True, slots=True)
class _Choice:
    """What the customer chose at checkout, checked: how the goods come (an address to
    deliver to, or the pickup store), how they pay, and the note."""

    fulfilment: Fulfilment
    method: PaymentMethod
    note: str
    address: Address | None
    store: Store | None


async def _read_request(session: AsyncSession, tenant: Tenant, request: CheckoutRequest) -> _Choice:
    """The request checked: known fulfilment and payment method, delivery or pickup, the
    note, an address for delivery or an open pickup store, cash on delivery only where the
    mall enables it."""
    fulfilment, method = _ways(request)
    note = _text(request.note, "note", 200, required=False, multiline=True)
    address = None
    store = None
    if fulfilment is Fulfilment.DELIVERY:
        address = _clean_address(request.address)
    else:
        if not request.store_public_id:
            raise ValidationFailed("Choose a store for pickup", field="store")
        store = await pickup_store(session, tenant, request.store_public_id)
    if method is PaymentMethod.COD and not (await get_mall_settings(session, tenant)).cod_enabled:
        raise CodNotEnabled()
    return _Choice(fulfilment, method, note, address, store)


def _ways(request: CheckoutRequest) -> tuple[Fulfilment, PaymentMethod]:
    try:
        fulfilment = Fulfilment(request.fulfilment)
        method = PaymentMethod(request.payment_method)
    except ValueError:
        raise ValidationFailed("Unknown fulfilment or payment method") from None
    if fulfilment is Fulfilment.NONE:
        raise ValidationFailed("Choose delivery or pickup", field="fulfilment")
    return fulfilment, method


async def _buyable_cart(
    session: AsyncSession, tenant: Tenant, customer_id: int, store: Store | None
) -> CartView:
    """The cart priced for the choice; ``cart_empty``, or ``cart_lines_unavailable`` with
    each line that cannot be bought now and why."""
    view = await view_cart(session, tenant, customer_id, store=store)
    if not view.lines:
        raise CartEmpty()
    if not view.ok:
        raise LinesUnavailable(
            lines=[
                {"sku": line.sku_public_id, "problem": line.problem}
                for line in view.lines
                if not line.ok
            ]
        )
    return view


async def _new_order(
    session: AsyncSession,
    tenant: Tenant,
    customer_id: int,
    choice: _Choice,
    view: CartView,
    *,
    unpaid_ttl_seconds: int,
) -> Order:
    """The order's row (not added yet): its units come from the pickup store's location
    or the online stock's; a pickup order gets its pickup code."""
    store, address = choice.store, choice.address
    if store is not None:
        location = await location_for_store(session, tenant, store.id)
    else:
        location = await default_warehouse(session, tenant)
    now = clock.now()
    return Order(
        merchant_id=tenant.id,
        public_id=new_public_id("ord"),
        number=new_order_number(),
        kind=OrderKind.MALL.value,
        status=OrderStatus.CREATED.value,
        fulfilment=choice.fulfilment.value,
        payment_method=choice.method.value,
        customer_id=customer_id,
        store_id=store.id if store is not None else None,
        location_id=location.id,
        items_fen=view.total_fen,
        shipping_fen=0,
        total_fen=view.total_fen,
        paid_fen=0,
        refunded_fen=0,
        recipient_name=address.name if address else "",
        recipient_phone=address.phone if address else "",
        address=address.address if address else "",
        note=choice.note,
        description=_describe(view),
        pickup_code=await unique_pickup_code(session, tenant) if store is not None else None,
        # Cash on delivery waits for the courier, not for a payment: it never lapses.
        expires_at=(
            None
            if choice.method is PaymentMethod.COD
            else now + timedelta(seconds=unpaid_ttl_seconds)
        ),
        created_at=now,
        updated_at=now,
    )


def _order_lines(tenant: Tenant, order: Order, view: CartView) -> list[OrderLine]:
    """The cart's lines as the order's, at the prices quoted (texts cut to their columns)."""
    return [
        OrderLine(
            merchant_id=tenant.id,
            order_id=order.id,
            sku_id=line.sku_id,
            sku_public_id=line.sku_public_id,
            title=line.title[:120],
            options_text=line.options_text[:200],
            unit_fen=line.unit_fen or 0,
            list_fen=line.list_fen or 0,
            price_rule=line.price_rule[:40],
            quantity=line.quantity,
            line_fen=line.line_fen,
        )
        for line in view.lines
    ]


async def checkout(
    session: AsyncSession,
    tenant: Tenant,
    *,
    customer_id: int,
    request: CheckoutRequest,
    unpaid_ttl_seconds: int,
) -> Order:
    """Turn the customer's whole cart into an order and hold its units (see
    :func:`place_order`, which also answers the order as the customer sees it)."""
    placed = await place_order(
        session,
        tenant,
        customer_id=customer_id,
        request=request,
        unpaid_ttl_seconds=unpaid_ttl_seconds,
    )
    return placed.order


async def place_order(
    session: AsyncSession,
    tenant: Tenant,
    *,
    customer_id: int,
    request: CheckoutRequest,
    unpaid_ttl_seconds: int,
) -> OrderDetail:
    """Turn the customer's whole cart into an order and hold its units; the new order with
    its lines and first step, as written (no statement reads it back).

    Raises 422 ``cart_empty``; 409 ``cart_lines_unavailable`` (with ``lines``: each SKU
    and why) when a line cannot be bought now; 409 ``insufficient_stock`` when the units
    went to someone else at the last moment; 422 ``address_required``,
    ``pickup_not_available``, ``cod_not_enabled``; NotFound for an unknown store.
    Nothing is written when it raises (the caller's transaction rolls back)."""
    choice = await _read_request(session, tenant, request)
    view = await _buyable_cart(session, tenant, customer_id, choice.store)
    order = await _new_order(
        session, tenant, customer_id, choice, view, unpaid_ttl_seconds=unpaid_ttl_seconds
    )
    await hooks.run_before("create", session, tenant, order)
    session.add(order)
    await session.flush()
    lines = _order_lines(tenant, order, view)
    await stock.hold_lines(
        session,
        tenant,
        order,
        lines,
        ttl=stock.hold_ttl(unpaid_ttl_seconds, cod=choice.method is PaymentMethod.COD),
        actor="customer",
    )
    # One executemany for every line: the order never reads its lines' ids back.
    await session.execute(
        insert(OrderLine),
        [
            {c.key: getattr(line, c.key) for c in OrderLine.__table__.columns if c.key != "id"}
            for line in lines
        ],
    )
    step = record_step(session, order, None, actor="customer", amount_fen=order.total_fen)
    await clear_lines(session, tenant, customer_id)
    await hooks.run_after("create", session, tenant, order)
    await announce(session, order, OrderCreated)
    await session.flush()
    # What order_detail would read back, four statements later: the rows just written,
    # lines in the order they were inserted (so by id), no refunds yet.
    store = choice.store
    return OrderDetail(
        order,
        lines,
        [step],
        [],
        store.public_id if store is not None else None,
        store.name if store is not None else None,
    )
