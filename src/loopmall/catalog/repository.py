"""The catalog's queries: one tenant-scoped entry point per thing read, each loading what
its callers use on purpose (CONVENTIONS rule 13) in a fixed number of statements."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from loopmall.catalog.models import Category, ChannelPrice, Product, ProductImage, ProductTag, Sku
from loopmall.catalog.pricing import Channel, SalesScope
from loopmall.catalog.schemas import ProductFilter
from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.pagination import decode_cursor, paginate_by_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.merchants.models import Store


@dataclass(frozen=True, slots=True)
class PriceRow:
    """One channel price of a SKU, with its store when the channel is a store."""

    channel: Channel
    store_id: int | None
    store_public_id: str | None
    store_name: str | None
    price: int
    member_price: int | None

    @property
    def key(self) -> str:
        return f"store:{self.store_id}" if self.channel is Channel.STORE else self.channel.value


@dataclass(slots=True)
class SkuDetail:
    sku: Sku
    product_public_id: str
    product_scope: SalesScope
    prices: list[PriceRow] = field(default_factory=list)

    @property
    def effective_scope(self) -> SalesScope:
        return SalesScope(self.sku.sales_scope) if self.sku.sales_scope else self.product_scope


@dataclass(slots=True)
class ProductDetail:
    product: Product
    category: Category | None
    skus: list[SkuDetail]
    images: list[ProductImage]


@dataclass(slots=True)
class ProductSummary:
    product: Product
    category: Category | None
    sku_count: int
    price_min: int | None
    price_max: int | None
    thumbnail: str | None


# ---------------------------------------------------------------------------- single rows


async def product_by_public_id(
    session: AsyncSession, tenant: Tenant, public_id: str, *, for_update: bool = False
) -> Product:
    """The merchant's product, locked when ``for_update``; NotFound otherwise."""
    stmt = scoped(Product, tenant, Product.public_id == public_id)
    if for_update:
        stmt = stmt.with_for_update()
    product = await session.scalar(stmt)
    if product is None:
        raise NotFound("No such product", product=public_id)
    return product


async def sku_with_product(
    session: AsyncSession, tenant: Tenant, public_id: str, *, for_update: bool = False
) -> tuple[Sku, Product]:
    """The merchant's SKU and its product (the product row locked when ``for_update``,
    which serializes every change to one product's SKUs)."""
    stmt = (
        select(Sku, Product)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.merchant_id == tenant.id, Sku.public_id == public_id)
    )
    if for_update:
        stmt = stmt.with_for_update(of=Product)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound("No such SKU", sku=public_id)
    return row[0], row[1]


async def store_by_public_id(session: AsyncSession, tenant: Tenant, public_id: str) -> Store:
    store = await session.scalar(scoped(Store, tenant, Store.public_id == public_id))
    if store is None:
        raise NotFound("No such store", store=public_id)
    return store


async def merchant_stores(session: AsyncSession, tenant: Tenant) -> list[Store]:
    """Every store of the merchant, by name (for the price editor's store list)."""
    stmt = scoped(Store, tenant).order_by(Store.name, Store.id)
    return list((await session.scalars(stmt)).all())


async def category_by_public_id(session: AsyncSession, tenant: Tenant, public_id: str) -> Category:
    category = await session.scalar(scoped(Category, tenant, Category.public_id == public_id))
    if category is None:
        raise NotFound("No such category", category=public_id)
    return category


async def all_categories(session: AsyncSession, tenant: Tenant) -> list[Category]:
    stmt = scoped(Category, tenant).order_by(Category.sort_order, Category.id)
    return list((await session.scalars(stmt)).all())


def descendants(categories: Iterable[Category], root_id: int) -> set[int]:
    """``root_id`` and the ids of every category below it."""
    children: dict[int | None, list[int]] = {}
    for c in categories:
        children.setdefault(c.parent_id, []).append(c.id)
    found = {root_id}
    todo = [root_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


# ---------------------------------------------------------------------------- prices


def channel_price_join(merchant_id: int, sku_id: Any, key: str) -> tuple[Any, Any]:
    """(a ``ChannelPrice`` alias, its ON clause): the SKU's row for one channel key, for a
    caller that folds the price into its own query with an outer join (the cart reads its
    lines, their SKUs and their prices in one statement). ``sku_id`` is a column."""
    price = aliased(ChannelPrice, name="channel_price")
    on = and_(
        price.merchant_id == merchant_id,
        price.sku_id == sku_id,
        price.channel_key == key,
    )
    return price, on


async def price_rows(
    session: AsyncSession,
    tenant: Tenant,
    sku_ids: Sequence[int],
    *,
    keys: Sequence[str] | None = None,
) -> dict[int, list[PriceRow]]:
    """The channel prices of ``sku_ids`` (only ``keys`` when given), by SKU id, in one query."""
    if not sku_ids:
        return {}
    stmt = (
        select(ChannelPrice, Store.public_id, Store.name)
        .outerjoin(Store, Store.id == ChannelPrice.store_id)
        .where(ChannelPrice.merchant_id == tenant.id, ChannelPrice.sku_id.in_(sku_ids))
        .order_by(ChannelPrice.sku_id, ChannelPrice.channel, Store.name, ChannelPrice.id)
    )
    if keys is not None:
        stmt = stmt.where(ChannelPrice.channel_key.in_(keys))
    rows: dict[int, list[PriceRow]] = {}
    for price, store_public_id, store_name in await session.execute(stmt):
        rows.setdefault(price.sku_id, []).append(_price_row(price, store_public_id, store_name))
    return rows


def _price_row(
    price: ChannelPrice, store_public_id: str | None, store_name: str | None
) -> PriceRow:
    return PriceRow(
        channel=Channel(price.channel),
        store_id=price.store_id,
        store_public_id=store_public_id,
        store_name=store_name,
        price=price.price,
        member_price=price.member_price,
    )


async def load_sku(session: AsyncSession, tenant: Tenant, public_id: str) -> SkuDetail:
    """A SKU with its product's public id and scope and its channel prices (2 queries)."""
    sku, product = await sku_with_product(session, tenant, public_id)
    prices = await price_rows(session, tenant, [sku.id])
    return SkuDetail(
        sku, product.public_id, SalesScope(product.sales_scope), prices.get(sku.id, [])
    )


# ---------------------------------------------------------------------------- products


async def load_product(session: AsyncSession, tenant: Tenant, public_id: str) -> ProductDetail:
    """A product with its category, SKUs, channel prices and images, in 4 queries whatever
    the number of SKUs (pinned by a test)."""
    row = (
        await session.execute(
            select(Product, Category)
            .outerjoin(
                Category,
                and_(Category.id == Product.category_id, Category.merchant_id == tenant.id),
            )
            .where(Product.merchant_id == tenant.id, Product.public_id == public_id)
        )
    ).first()
    if row is None:
        raise NotFound("No such product", product=public_id)
    product, category = row[0], row[1]
    skus = list(
        (
            await session.scalars(
                scoped(Sku, tenant, Sku.product_id == product.id).order_by(Sku.id)
            )
        ).all()
    )
    price_stmt = (
        select(ChannelPrice, Store.public_id, Store.name)
        .join(Sku, Sku.id == ChannelPrice.sku_id)
        .outerjoin(Store, Store.id == ChannelPrice.store_id)
        .where(ChannelPrice.merchant_id == tenant.id, Sku.product_id == product.id)
        .order_by(ChannelPrice.sku_id, ChannelPrice.channel, Store.name, ChannelPrice.id)
    )
    prices: dict[int, list[PriceRow]] = {}
    for price, store_public_id, store_name in await session.execute(price_stmt):
        prices.setdefault(price.sku_id, []).append(_price_row(price, store_public_id, store_name))
    images = list(
        (
            await session.scalars(
                scoped(ProductImage, tenant, ProductImage.product_id == product.id).order_by(
                    ProductImage.sort_order, ProductImage.id
                )
            )
        ).all()
    )
    scope = SalesScope(product.sales_scope)
    details = [SkuDetail(s, product.public_id, scope, prices.get(s.id, [])) for s in skus]
    return ProductDetail(product, category, details, images)


async def list_products(
    session: AsyncSession,
    tenant: Tenant,
    filters: ProductFilter,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[ProductSummary], str | None]:
    """A page of the merchant's products matching ``filters``, oldest first, each with its
    category, active SKU count, base price range and first image (4 queries a page).

    ``q`` matches the title or a SKU's code or barcode; ``category`` includes the
    categories below it. An unknown category is NotFound.
    """
    if cursor:
        # paginate_by_id accepts any int, and one past BIGINT makes the driver fail (500).
        after = decode_cursor(cursor)
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
            raise ValidationFailed("The cursor is not valid", field="cursor")
    stmt = scoped(Product, tenant)
    if filters.q:
        needle = filters.q.lower()
        sku_hit = select(Sku.product_id).where(
            Sku.merchant_id == tenant.id,
            or_(func.lower(Sku.code).contains(needle, autoescape=True), Sku.barcode == filters.q),
        )
        stmt = stmt.where(
            or_(
                func.lower(Product.title).contains(needle, autoescape=True),
                Product.id.in_(sku_hit),
            )
        )
    if filters.category:
        root = await category_by_public_id(session, tenant, filters.category)
        in_tree = descendants(await all_categories(session, tenant), root.id)
        stmt = stmt.where(Product.category_id.in_(in_tree))
    if filters.status:
        stmt = stmt.where(Product.status == filters.status.value)
    if filters.tag:
        tagged = select(ProductTag.product_id).where(
            ProductTag.merchant_id == tenant.id, ProductTag.tag == filters.tag
        )
        stmt = stmt.where(Product.id.in_(tagged))
    products, next_cursor = await paginate_by_id(
        session, stmt, Product.id, cursor=cursor, limit=limit
    )
    if not products:
        return [], next_cursor
    ids = [p.id for p in products]
    stats = {
        product_id: (count, low, high)
        for product_id, count, low, high in await session.execute(
            select(Sku.product_id, func.count(), func.min(Sku.price), func.max(Sku.price))
            .where(Sku.merchant_id == tenant.id, Sku.product_id.in_(ids), Sku.status == "active")
            .group_by(Sku.product_id)
        )
    }
    thumbs: dict[int, str] = {}
    for product_id, path in await session.execute(
        select(ProductImage.product_id, ProductImage.path)
        .where(ProductImage.merchant_id == tenant.id, ProductImage.product_id.in_(ids))
        .order_by(ProductImage.product_id, ProductImage.sort_order, ProductImage.id)
    ):
        thumbs.setdefault(product_id, path)
    category_ids = {p.category_id for p in products if p.category_id is not None}
    categories = {
        c.id: c
        for c in (
            await session.scalars(scoped(Category, tenant, Category.id.in_(category_ids)))
            if category_ids
            else []
        )
    }
    summaries = []
    for p in products:
        count, low, high = stats.get(p.id, (0, None, None))
        summaries.append(
            ProductSummary(
                product=p,
                category=categories.get(p.category_id) if p.category_id else None,
                sku_count=int(count),
                price_min=low,
                price_max=high,
                thumbnail=thumbs.get(p.id),
            )
        )
    return summaries, next_cursor
