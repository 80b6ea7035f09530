"""The cart: one per customer (so per consumer per merchant), lines of SKUs and quantities.

The cart stores only what and how many. Prices are quoted every time it is shown — for
the online channel, or for the pickup store's channel — through ``catalog.prices``, and
each line says why it cannot be bought now when it cannot (off sale, not sold in that
channel, out of stock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.errors import NotForSale
from loopmall.catalog.models import Product, Sku
from loopmall.catalog.pricing import (
    Channel,
    PriceLevel,
    PriceQuote,
    SalesScope,
    SkuPrices,
    channel_key,
    resolve_price,
)
from loopmall.catalog.repository import channel_price_join
from loopmall.core import clock
from loopmall.core.errors import LoopmallError, NotFound, OutOfRange, ValidationFailed
from loopmall.core.tenancy import Tenant, scoped
from loopmall.inventory.repository import SellableStock, sellable_stock
from loopmall.members.service import member_clause
from loopmall.merchants.models import Store
from loopmall.orders.models import CartLine
from loopmall.orders.rules import MAX_CART_LINES, MAX_LINE_QUANTITY, CartLimit

# Why a line cannot be bought now (stable codes; pages translate them).
NOT_FOR_SALE = "not_for_sale"
NOT_SOLD_IN_CHANNEL = "not_sold_in_channel"
OUT_OF_STOCK = "out_of_stock"
NOT_ENOUGH_STOCK = "not_enough_stock"


@dataclass(frozen=True, slots=True)
class CartLineView:
    sku_id: int
    sku_public_id: str
    product_public_id: str
    title: str
    options_text: str
    quantity: int
    unit_fen: int | None  # None when the line cannot be priced (off sale, wrong channel)
    list_fen: int | None
    price_rule: str
    line_fen: int
    available_units: int
    problem: str | None  # None: can be bought now

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True, slots=True)
class CartView:
    lines: list[CartLineView]
    channel: str
    store_public_id: str | None

    @property
    def total_fen(self) -> int:
        return sum(line.line_fen for line in self.lines if line.ok)

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def ok(self) -> bool:
        return bool(self.lines) and all(line.ok for line in self.lines)


def options_text(options: dict[str, object]) -> str:
    return " / ".join(f"{k}: {v}" for k, v in options.items())


def _check_quantity(quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValidationFailed("quantity must be a whole number", field="quantity")
    if not 0 <= quantity <= MAX_LINE_QUANTITY:
        raise OutOfRange(
            f"quantity must be between 0 and {MAX_LINE_QUANTITY}",
            field="quantity",
            low=0,
            high=MAX_LINE_QUANTITY,
        )


async def _sku_and_other_lines(
    session: AsyncSession, tenant: Tenant, customer_id: int, sku_public_id: str
) -> tuple[int, int]:
    """The id of a SKU on sale, and how many other SKUs the customer's cart holds, in one
    statement. Raises NotFound for an unknown SKU, 422 ``not_for_sale``."""
    others = (
        select(func.count(CartLine.id))
        .where(
            CartLine.merchant_id == tenant.id,
            CartLine.customer_id == customer_id,
            CartLine.sku_id != Sku.id,
        )
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(Sku.id, Sku.status, Product.status.label("product_status"), others)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.merchant_id == tenant.id, Sku.public_id == sku_public_id)
        )
    ).first()
    if row is None:
        raise NotFound("No such SKU", sku=sku_public_id)
    sku_id, status, product_status, other_lines = row
    if status != "active" or product_status != "active":
        raise NotForSale("This item is not on sale", sku=sku_public_id)
    return sku_id, int(other_lines or 0)


async def add_to_cart(
    session: AsyncSession, tenant: Tenant, customer_id: int, sku_public_id: str, quantity: int
) -> None:
    """Add ``quantity`` of a SKU (added to what the cart has, at most 99 a line).

    Raises NotFound for an unknown SKU, 422 ``not_for_sale``, 422 ``cart_limit`` beyond
    50 lines, 422 for a quantity outside 1–99."""
    _check_quantity(quantity)
    if quantity == 0:
        raise ValidationFailed("quantity must be at least 1", field="quantity")
    sku_id, other_lines = await _sku_and_other_lines(session, tenant, customer_id, sku_public_id)
    if other_lines >= MAX_CART_LINES:
        raise CartLimit(
            f"A cart holds at most {MAX_CART_LINES} different items", most=MAX_CART_LINES
        )
    now = clock.now()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(CartLine).values(
        merchant_id=tenant.id,
        customer_id=customer_id,
        sku_id=sku_id,
        quantity=quantity,
        added_at=now,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[CartLine.customer_id, CartLine.sku_id],
        set_={
            "quantity": func.min(CartLine.quantity + stmt.excluded.quantity, MAX_LINE_QUANTITY)
            if dialect is sqlite
            else func.least(CartLine.quantity + stmt.excluded.quantity, MAX_LINE_QUANTITY),
            "updated_at": now,
        },
    )
    await session.execute(stmt)


async def set_quantity(
    session: AsyncSession, tenant: Tenant, customer_id: int, sku_public_id: str, quantity: int
) -> None:
    """Set a line's quantity (0 removes it). Raises NotFound when the SKU is not in the
    cart, 422 for a quantity outside 0–99."""
    _check_quantity(quantity)
    line = await session.scalar(
        scoped(CartLine, tenant, CartLine.customer_id == customer_id)
        .join(Sku, Sku.id == CartLine.sku_id)
        .where(Sku.public_id == sku_public_id)
    )
    if line is None:
        raise NotFound("This item is not in the cart", sku=sku_public_id)
    if quantity == 0:
        await session.delete(line)
    else:
        line.quantity = quantity
        line.updated_at = clock.now()
    await session.flush()


async def clear_lines(
    session: AsyncSession, tenant: Tenant, customer_id: int, sku_ids: list[int] | None = None
) -> None:
    """Empty the cart (or remove the lines of ``sku_ids``)."""
    stmt = delete(CartLine).where(
        CartLine.merchant_id == tenant.id, CartLine.customer_id == customer_id
    )
    if sku_ids is not None:
        stmt = stmt.where(CartLine.sku_id.in_(sku_ids))
    await session.execute(stmt)


def _sold_in(scope: str, channel: Channel) -> bool:
    if scope == SalesScope.STORE_ONLY:
        return channel is Channel.STORE
    if scope == SalesScope.ONLINE_ONLY:
        return channel is not Channel.STORE
    return True


async def view_cart(
    session: AsyncSession, tenant: Tenant, customer_id: int, *, store: Store | None = None
) -> CartView:
    """The cart priced for delivery (online channel, online stock) or for pickup at
    ``store`` (that store's prices and stock), at member prices for a member of the
    merchant (``members.service``). Two statements whatever its size: the lines with their
    SKUs, products, channel prices and the membership; the free stock."""
    channel = Channel.STORE if store is not None else Channel.ONLINE
    store_id = store.id if store is not None else None
    rows, is_member = await _cart_rows(session, tenant, customer_id, channel, store_id)
    stock = await sellable_stock(session, tenant, [row.sku_id for row in rows])
    lines = [
        _line_view(
            row,
            _quote(row, channel, store_id, is_member),
            _free_units(stock[row.sku_id], store_id),
            channel,
        )
        for row in rows
    ]
    return CartView(lines, channel.value, store.public_id if store is not None else None)


@dataclass(frozen=True, slots=True)
class _CartRow:
    """A cart line with what the view needs of its SKU, product and channel price."""

    quantity: int
    sku_id: int
    sku_public_id: str
    options: dict[str, object]
    sku_status: str
    sku_scope: str | None
    prices: SkuPrices
    product_public_id: str
    title: str
    product_status: str
    product_scope: str

    def on_sale(self) -> bool:
        return self.sku_status == "active" and self.product_status == "active"

    def sold_in(self, channel: Channel) -> bool:
        return _sold_in(self.sku_scope or self.product_scope, channel)


async def _cart_rows(
    session: AsyncSession,
    tenant: Tenant,
    customer_id: int,
    channel: Channel,
    store_id: int | None,
) -> tuple[list[_CartRow], bool]:
    """The customer's lines in the order added, as columns, and whether the customer is a
    member; the channel's price row and the membership ride along in the same statement."""
    key = channel_key(channel, store_id)
    price, on_price = channel_price_join(tenant.id, Sku.id, key)
    member = member_clause(tenant.id, customer_id).label("member")
    found = (
        await session.execute(
            select(
                CartLine.quantity,
                Sku.id,
                Sku.public_id,
                Sku.options,
                Sku.status,
                Sku.sales_scope,
                Sku.price,
                Sku.member_price,
                Product.public_id.label("product_public_id"),
                Product.title,
                Product.status.label("product_status"),
                Product.sales_scope.label("product_scope"),
                price.price.label("channel_price"),
                price.member_price.label("channel_member_price"),
                member,
            )
            .join(Sku, Sku.id == CartLine.sku_id)
            .join(Product, Product.id == Sku.product_id)
            .outerjoin(price, on_price)
            .where(CartLine.merchant_id == tenant.id, CartLine.customer_id == customer_id)
            .order_by(CartLine.id)
        )
    ).all()
    is_member = bool(found and found[0].member)
    return [_row(r, key) for r in found], is_member


def _row(r: Any, key: str) -> _CartRow:
    channels = {}
    if r.channel_price is not None:
        channels[key] = PriceLevel(r.channel_price, r.channel_member_price)
    scope = r.sales_scope or r.product_scope
    return _CartRow(
        quantity=r.quantity,
        sku_id=r.id,
        sku_public_id=r.public_id,
        options=dict(r.options or {}),
        sku_status=r.status,
        sku_scope=r.sales_scope,
        prices=SkuPrices(
            base=PriceLevel(r.price, r.member_price),
            channels=channels,
            sales_scope=SalesScope(scope),
        ),
        product_public_id=r.product_public_id,
        title=r.title,
        product_status=r.product_status,
        product_scope=r.product_scope,
    )


def _quote(
    row: _CartRow, channel: Channel, store_id: int | None, is_member: bool
) -> PriceQuote | None:
    """The line's price in the channel by the catalogue's rule, from what its row read;
    None for a line that cannot be sold there (the line says why)."""
    if not (row.on_sale() and row.sold_in(channel)):
        return None
    try:
        return resolve_price(row.prices, channel, store_id, is_member)
    except LoopmallError:
        return None


def _free_units(free: SellableStock, store_id: int | None) -> int:
    """Free units where the order would take them: the pickup store, or online."""
    return free.stores.get(store_id, 0) if store_id is not None else free.online


def _problem(row: _CartRow, quote: PriceQuote | None, units: int, channel: Channel) -> str | None:
    """Why the line cannot be bought now (the first reason that applies), None if it can."""
    if not row.on_sale():
        return NOT_FOR_SALE
    if not row.sold_in(channel):
        return NOT_SOLD_IN_CHANNEL
    if quote is None:
        return NOT_FOR_SALE
    if units <= 0:
        return OUT_OF_STOCK
    if units < row.quantity:
        return NOT_ENOUGH_STOCK
    return None


def _line_view(
    row: _CartRow, quote: PriceQuote | None, units: int, channel: Channel
) -> CartLineView:
    return CartLineView(
        sku_id=row.sku_id,
        sku_public_id=row.sku_public_id,
        product_public_id=row.product_public_id,
        title=row.title,
        options_text=options_text(row.options),
        quantity=row.quantity,
        unit_fen=quote.amount if quote else None,
        list_fen=quote.list_price if quote else None,
        price_rule=quote.rule if quote else "",
        line_fen=quote.amount * row.quantity if quote else 0,
        available_units=max(units, 0),
        problem=_problem(row, quote, units, channel),
    )


async def cart_count(session: AsyncSession, tenant: Tenant, customer_id: int) -> int:
    """Units in the cart (for the tab badge)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(CartLine.quantity), 0)).where(
            CartLine.merchant_id == tenant.id, CartLine.customer_id == customer_id
        )
    )
    return int(total or 0)
