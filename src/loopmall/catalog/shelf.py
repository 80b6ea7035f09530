"""The shop window: what a consumer's mall shows of the catalog.

Only active products with at least one active SKU sold online appear; prices are those of
the online channel (``online`` rows, else the base price), with the exclusive WeChat price
("微信价", S0) shown beside them where the merchant set one, and the price a member would
pay online (applied per visitor by :func:`for_member`).

These are the reads a crowd hits (issue #13), so they are lean: Core selects of the columns
shown, never ORM instances (building those row by row was about a third of the mall home's
time), a fixed number of statements whatever the number of products, SKUs or categories,
and plain results (:class:`ShelfCard` is a JSON mapping; :class:`ShelfProduct` has
``to_plain`` / ``from_plain``) that a cache can keep. Nothing here depends on the visitor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypedDict

from sqlalchemy import Integer, Row, Select, and_, exists, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from loopmall.catalog.images import url_for
from loopmall.catalog.models import Category, ChannelPrice, Product, ProductImage, Sku
from loopmall.catalog.pricing import (
    Channel,
    PriceLevel,
    SalesScope,
    SkuPrices,
    channel_key,
    resolve_price,
    sold_in,
)
from loopmall.core.errors import NotFound
from loopmall.core.tenancy import Tenant
from loopmall.core.valueset import one_of

ONLINE_KEY, WECHAT_KEY = channel_key(Channel.ONLINE), channel_key(Channel.WECHAT)
_online = aliased(ChannelPrice, name="online_price")
_wechat = aliased(ChannelPrice, name="wechat_price")


@dataclass(frozen=True, slots=True)
class ShelfSku:
    id: int
    public_id: str
    options: dict[str, str]
    price: int  # online channel, fen
    wechat_price: int | None  # the exclusive WeChat price when lower than ``price``
    member_price: int | None = None  # what a member pays online, when lower than ``price``

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> ShelfSku:
        return cls(**data)


@dataclass(frozen=True, slots=True)
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

    def to_plain(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> ShelfProduct:
        skus = [ShelfSku.from_plain(s) for s in data["skus"]]
        return cls(**(data | {"skus": skus}))


class ShelfCard(TypedDict):
    """A product in a list (a home grid, a category, the API's list): plain JSON."""

    id: int  # internal: the list's cursor
    public_id: str
    title: str
    thumbnail: str | None
    price_min: int
    price_max: int
    wechat_min: int | None


@dataclass(frozen=True, slots=True)
class Grid:
    """One list to read: the newest products on sale online, in a category (and the ones
    below it) if given, older than ``before_id`` if given."""

    category_public_id: str | None = None
    limit: int = 12
    before_id: int | None = None


# ---------------------------------------------------------------------------- queries


def _sold_online(tenant: Tenant) -> Any:
    """EXISTS an active SKU of the product whose sales scope (its own, else the product's)
    lets it be sold online: correlated to ``Product`` in the enclosing select."""
    return exists().where(
        Sku.merchant_id == tenant.id,
        Sku.product_id == Product.id,
        Sku.status == "active",
        func.coalesce(Sku.sales_scope, Product.sales_scope) != SalesScope.STORE_ONLY.value,
    )


def _subtree_ids(tenant: Tenant, public_id: str, name: str) -> Any:
    """The ids of the category ``public_id`` and every category below it, as a recursive
    CTE (UNION, not UNION ALL: a cycle, which the editor refuses, would still end)."""
    top = (
        select(Category.id)
        .where(Category.merchant_id == tenant.id, Category.public_id == public_id)
        .cte(name, recursive=True)
    )
    below = select(Category.id).where(
        Category.merchant_id == tenant.id, Category.parent_id == top.c.id
    )
    return select(top.union(below).c.id)


def _grid_select(tenant: Tenant, number: int, grid: Grid) -> Select[Any]:
    thumbnail = (
        select(ProductImage.path)
        .where(ProductImage.merchant_id == tenant.id, ProductImage.product_id == Product.id)
        .order_by(ProductImage.sort_order, ProductImage.id)
        .limit(1)
        .correlate(Product)
        .scalar_subquery()
    )
    stmt = select(
        literal(number, Integer).label("grid"),
        Product.id,
        Product.public_id,
        Product.title,
        Product.sales_scope,
        thumbnail.label("thumbnail"),
    ).where(Product.merchant_id == tenant.id, Product.status == "active", _sold_online(tenant))
    if grid.category_public_id:
        tree = _subtree_ids(tenant, grid.category_public_id, f"subtree_{number}")
        stmt = stmt.where(Product.category_id.in_(tree))
    if grid.before_id is not None:
        stmt = stmt.where(Product.id < grid.before_id)
    return stmt.order_by(Product.id.desc()).limit(grid.limit)


def _price_row_of(price: Any, tenant: Tenant, key: str) -> Any:
    """The join condition of a SKU's price row under channel ``key`` (``price`` an alias)."""
    return and_(price.merchant_id == tenant.id, price.sku_id == Sku.id, price.channel_key == key)


async def _sku_rows(
    session: AsyncSession, tenant: Tenant, product_ids: Iterable[int], *, options: bool
) -> Sequence[Row[Any]]:
    """Active SKUs of the products with their online and WeChat price rows: one row a SKU
    (a SKU has at most one row per channel key)."""
    columns: list[Any] = [
        Sku.id,
        Sku.public_id,
        Sku.product_id,
        Sku.price,
        Sku.member_price,
        Sku.sales_scope,
        _online.price.label("online_price"),
        _online.member_price.label("online_member"),
        _wechat.price.label("wechat_price"),
        _wechat.member_price.label("wechat_member"),
    ]
    if options:
        columns.append(Sku.options)
    stmt = (
        select(*columns)
        .outerjoin(_online, _price_row_of(_online, tenant, ONLINE_KEY))
        .outerjoin(_wechat, _price_row_of(_wechat, tenant, WECHAT_KEY))
        .where(
            Sku.merchant_id == tenant.id,
            one_of(Sku.product_id, product_ids),
            Sku.status == "active",
        )
        .order_by(Sku.id)
    )
    return (await session.execute(stmt)).all()


def _shelf_sku(row: Row[Any], product_scope: str) -> ShelfSku | None:
    """The SKU as the online mall sells it, or None when its scope keeps it out (S3)."""
    scope = SalesScope(row.sales_scope or product_scope)
    if not sold_in(scope, Channel.ONLINE):
        return None
    levels = {}
    if row.online_price is not None:
        levels[ONLINE_KEY] = PriceLevel(row.online_price, row.online_member)
    if row.wechat_price is not None:
        levels[WECHAT_KEY] = PriceLevel(row.wechat_price, row.wechat_member)
    prices = SkuPrices(PriceLevel(row.price, row.member_price), levels, scope)
    online = resolve_price(prices, Channel.ONLINE, None, False).amount
    wechat = resolve_price(prices, Channel.WECHAT, None, False).amount
    member = resolve_price(prices, Channel.ONLINE, None, True).amount
    options = getattr(row, "options", None) or {}
    return ShelfSku(
        id=row.id,
        public_id=row.public_id,
        options={str(k): str(v) for k, v in options.items()},
        price=online,
        wechat_price=wechat if wechat < online else None,
        member_price=member if member < online else None,
    )


def _skus_by_product(rows: Sequence[Row[Any]], scopes: dict[int, str]) -> dict[int, list[ShelfSku]]:
    found: dict[int, list[ShelfSku]] = {}
    for row in rows:
        sku = _shelf_sku(row, scopes[row.product_id])
        if sku is not None:
            found.setdefault(row.product_id, []).append(sku)
    return found


def _card(row: Row[Any], skus: list[ShelfSku]) -> ShelfCard:
    wechat = [s.wechat_price for s in skus if s.wechat_price is not None]
    return ShelfCard(
        id=row.id,
        public_id=row.public_id,
        title=row.title,
        thumbnail=url_for(row.thumbnail) if row.thumbnail else None,
        price_min=min(s.price for s in skus),
        price_max=max(s.price for s in skus),
        wechat_min=min(wechat) if wechat else None,
    )


# ---------------------------------------------------------------------------- reads


async def windows(
    session: AsyncSession, tenant: Tenant, grids: Sequence[Grid]
) -> list[list[ShelfCard]]:
    """The cards of each grid, newest first, in two statements however many grids,
    products or SKUs (one for the products of every grid, one for their SKUs and prices).
    An unknown category's grid is empty."""
    if not grids:
        return []
    selects = [_grid_select(tenant, n, g) for n, g in enumerate(grids)]
    if len(selects) == 1:
        stmt: Any = selects[0]
    else:  # each grid keeps its own ORDER BY and LIMIT inside its subquery
        stmt = union_all(*(select(s.subquery()) for s in selects))
    products = sorted((await session.execute(stmt)).all(), key=lambda r: (r.grid, -r.id))
    scopes = {row.id: row.sales_scope for row in products}
    rows = await _sku_rows(session, tenant, scopes, options=False) if scopes else []
    skus = _skus_by_product(rows, scopes)
    cards: list[list[ShelfCard]] = [[] for _ in grids]
    for row in products:
        # The EXISTS already kept out products with no SKU sold online; a SKU that
        # changed between the two statements could still leave one without.
        if row.id in skus:
            cards[row.grid].append(_card(row, skus[row.id]))
    return cards


async def window(
    session: AsyncSession,
    tenant: Tenant,
    *,
    category_public_id: str | None = None,
    limit: int = 12,
    before_id: int | None = None,
) -> list[ShelfCard]:
    """The newest products on sale online (in a category and the ones below it, if given;
    older than ``before_id``, if given): 2 statements."""
    return (await windows(session, tenant, [Grid(category_public_id, limit, before_id)]))[0]


async def product_page(session: AsyncSession, tenant: Tenant, public_id: str) -> ShelfProduct:
    """One product as the mall shows it, in 3 statements (the product with its category,
    its SKUs with their online and WeChat prices, its images). Raises NotFound when it is
    not this merchant's, not active, or not sold online."""
    row = (
        await session.execute(
            select(
                Product.id,
                Product.public_id,
                Product.title,
                Product.subtitle,
                Product.description,
                Product.sales_scope,
                Product.option_names,
                Product.tags,
                Category.public_id.label("category_public_id"),
                Category.name.label("category_name"),
            )
            .outerjoin(
                Category,
                and_(Category.merchant_id == tenant.id, Category.id == Product.category_id),
            )
            .where(
                Product.merchant_id == tenant.id,
                Product.public_id == public_id,
                Product.status == "active",
            )
        )
    ).first()
    if row is None:
        raise NotFound("No such product", product=public_id)
    skus = _skus_by_product(
        await _sku_rows(session, tenant, [row.id], options=True), {row.id: row.sales_scope}
    )
    if not skus:  # A product none of whose SKUs is sold online is not in the online mall (S3).
        raise NotFound("This product is not sold online", product=public_id)
    images = await session.scalars(
        select(ProductImage.path)
        .where(ProductImage.merchant_id == tenant.id, ProductImage.product_id == row.id)
        .order_by(ProductImage.sort_order, ProductImage.id)
    )
    return ShelfProduct(
        id=row.id,
        public_id=row.public_id,
        title=row.title,
        subtitle=row.subtitle,
        description=row.description,
        category_public_id=row.category_public_id,
        category_name=row.category_name,
        option_names=[str(n) for n in row.option_names or []],
        tags=[str(t) for t in row.tags or []],
        skus=skus[row.id],
        images=[url_for(path) for path in images],
    )


# ---------------------------------------------------------------------------- per visitor


def for_member(product: ShelfProduct) -> tuple[ShelfProduct, bool]:
    """The product at a member's online prices (the WeChat price kept only where it is
    still lower), and whether any SKU has a member price below its list price. No I/O:
    the member prices came with the product."""
    skus = [
        replace(
            s,
            price=s.member_price,
            wechat_price=s.wechat_price
            if s.wechat_price is not None and s.wechat_price < s.member_price
            else None,
            member_price=None,
        )
        if s.member_price is not None
        else s
        for s in product.skus
    ]
    discounted = any(s.member_price is not None for s in product.skus)
    return replace(product, skus=skus), discounted
