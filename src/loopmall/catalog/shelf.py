"""The shop window: what a consumer's mall shows of the catalog.

Only active products with at least one active SKU sold online appear; prices are those of
the online channel (``online`` rows, else the base price), with the exclusive WeChat price
("微信价", S0) shown beside them where the merchant set one. Each read is a fixed number of
queries whatever the number of products or SKUs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog import repository
from loopmall.catalog.images import url_for
from loopmall.catalog.models import Category, Product, ProductImage, Sku
from loopmall.catalog.pricing import (
    Channel,
    PriceLevel,
    SalesScope,
    SkuPrices,
    channel_keys,
    resolve_price,
    sold_in,
)
from loopmall.core.errors import NotFound
from loopmall.core.tenancy import Tenant, scoped

SHELF_KEYS = sorted(set(channel_keys(Channel.ONLINE, None) + channel_keys(Channel.WECHAT, None)))


@dataclass(frozen=True, slots=True)
class ShelfSku:
    id: int
    public_id: str
    options: dict[str, str]
    price: int  # online channel, fen
    wechat_price: int | None  # the exclusive WeChat price when lower than ``price``


@dataclass(slots=True)
class ShelfProduct:
    id: int
    public_id: str
    title: str
    subtitle: str
    description: str
    category_public_id: str | None
    category_name: str | None
    option_names: list[str]
    tags: list[str]
    skus: list[ShelfSku] = field(default_factory=list)
    images: list[str] = field(default_factory=list)

    @property
    def price_min(self) -> int:
        return min(s.price for s in self.skus)

    @property
    def price_max(self) -> int:
        return max(s.price for s in self.skus)

    @property
    def wechat_min(self) -> int | None:
        found = [s.wechat_price for s in self.skus if s.wechat_price is not None]
        return min(found) if found else None

    @property
    def thumbnail(self) -> str | None:
        return self.images[0] if self.images else None


async def _fill(
    session: AsyncSession, tenant: Tenant, products: Sequence[Product]
) -> list[ShelfProduct]:
    """SKUs, online/WeChat prices, images and category names of ``products`` (4 queries)."""
    if not products:
        return []
    ids = [p.id for p in products]
    skus = (
        await session.scalars(
            scoped(Sku, tenant, Sku.product_id.in_(ids), Sku.status == "active").order_by(Sku.id)
        )
    ).all()
    prices = await repository.price_rows(session, tenant, [s.id for s in skus], keys=SHELF_KEYS)
    images: dict[int, list[str]] = {}
    for product_id, path in await session.execute(
        select(ProductImage.product_id, ProductImage.path)
        .where(ProductImage.merchant_id == tenant.id, ProductImage.product_id.in_(ids))
        .order_by(ProductImage.product_id, ProductImage.sort_order, ProductImage.id)
    ):
        images.setdefault(product_id, []).append(url_for(path))
    category_ids = {p.category_id for p in products if p.category_id is not None}
    categories: dict[int, Category] = {}
    if category_ids:
        found = await session.scalars(scoped(Category, tenant, Category.id.in_(category_ids)))
        categories = {c.id: c for c in found}
    shelf = {
        p.id: ShelfProduct(
            id=p.id,
            public_id=p.public_id,
            title=p.title,
            subtitle=p.subtitle,
            description=p.description,
            category_public_id=categories[p.category_id].public_id
            if p.category_id in categories
            else None,
            category_name=categories[p.category_id].name if p.category_id in categories else None,
            option_names=list(p.option_names or []),
            tags=list(p.tags or []),
            images=images.get(p.id, []),
        )
        for p in products
    }
    scopes = {p.id: SalesScope(p.sales_scope) for p in products}
    for sku in skus:
        scope = SalesScope(sku.sales_scope) if sku.sales_scope else scopes[sku.product_id]
        if not sold_in(scope, Channel.ONLINE):
            continue
        levels = {
            row.key: PriceLevel(row.price, row.member_price) for row in prices.get(sku.id, [])
        }
        sku_prices = SkuPrices(PriceLevel(sku.price, sku.member_price), levels, scope)
        online = resolve_price(sku_prices, Channel.ONLINE, None, False).amount
        wechat = resolve_price(sku_prices, Channel.WECHAT, None, False).amount
        shelf[sku.product_id].skus.append(
            ShelfSku(
                id=sku.id,
                public_id=sku.public_id,
                options={str(k): str(v) for k, v in (sku.options or {}).items()},
                price=online,
                wechat_price=wechat if wechat < online else None,
            )
        )
    # A product none of whose SKUs is sold online is not in the online mall (S3).
    return [shelf[p.id] for p in products if shelf[p.id].skus]


async def window(
    session: AsyncSession,
    tenant: Tenant,
    *,
    category_public_id: str | None = None,
    limit: int = 12,
) -> list[ShelfProduct]:
    """The newest products on sale online (in a category and the ones below it, if given).

    Raises NotFound for an unknown category.
    """
    stmt = scoped(Product, tenant, Product.status == "active")
    if category_public_id:
        root = await repository.category_by_public_id(session, tenant, category_public_id)
        tree = repository.descendants(await repository.all_categories(session, tenant), root.id)
        stmt = stmt.where(Product.category_id.in_(tree))
    # Over-fetch a little: a product may turn out to have no SKU sold online.
    products = (await session.scalars(stmt.order_by(Product.id.desc()).limit(limit * 2))).all()
    return (await _fill(session, tenant, products))[:limit]


async def product_page(session: AsyncSession, tenant: Tenant, public_id: str) -> ShelfProduct:
    """One product as the mall shows it. Raises NotFound when it is not on sale online."""
    product = await session.scalar(
        scoped(Product, tenant, Product.public_id == public_id, Product.status == "active")
    )
    if product is None:
        raise NotFound("No such product", product=public_id)
    filled = await _fill(session, tenant, [product])
    if not filled:
        raise NotFound("This product is not sold online", product=public_id)
    return filled[0]
