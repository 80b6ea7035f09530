"""The mall's reads that are the same for every visitor, through the app's read cache
(``core.readcache``, ADR 0010). A page calls these instead of ``storefront.reads`` and
``catalog.shelf`` directly; what differs per visitor (member prices, the cart, login) it
still applies afterwards.

Each value is filed under the generations of every area it was read from, so the typed event
of any change to those (``storefront.handlers``) makes the next request read it anew: the home
page under mall + catalog + stores, a product under catalog, its stock under catalog + stock
(the SKUs it counts come from the catalog), a store and the store list's first page under
stores.

A value is built in a read session of its own, begun after the generations were read: the
caller's session may already have read something (the mall by its slug), and on SQLite a read
transaction keeps the snapshot of its first statement — a change committed and bumped since
would be filed, unseen, under its new generation.

Keys are made only of a fixed name and a public id of the right shape: a path that is not an
id (``/m/x/p/<anything>``) is read through without a key, and answers 404 as before. An
unknown id of the right shape raises NotFound while building, and nothing is cached for it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog import shelf
from loopmall.catalog.categories import CategoryBranch, mall_tree
from loopmall.catalog.shelf import ShelfProduct
from loopmall.core.readcache import Area, CacheView, ReadCache, cache_of
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.store_reads import (
    Point,
    StoreCard,
    StorePage,
    open_store,
    open_stores_page,
)
from loopmall.storefront import reads
from loopmall.storefront.reads import CategoryShelf, HomeSection, PickerStock

T = TypeVar("T")
Read = Callable[[AsyncSession], Awaitable[T]]

HOME: tuple[Area, ...] = ("mall", "catalog", "stores")
PRODUCT_STOCK: tuple[Area, ...] = ("catalog", "stock")
# ``core.ids.new_public_id``: a short prefix, an underscore, 16 base-32 characters.
_PUBLIC_ID = re.compile(r"[a-z]{1,8}_[0-9a-z]{16}")


def _key(kind: str, public_id: str) -> str | None:
    return f"{kind}:{public_id}" if _PUBLIC_ID.fullmatch(public_id) else None


async def _fresh(cache: ReadCache, session: AsyncSession, read: Read[T]) -> T:
    """``read`` in a read session begun now (the caller's when the app gave none)."""
    if cache.read_factory is None:
        return await read(session)
    async with UnitOfWork(cache.read_factory) as uow:
        return await read(uow.session)


async def _get(
    view: CacheView, session: AsyncSession, areas: Sequence[Area], key: str, read: Read[T]
) -> T:
    return await view.get_or_build(tuple(areas), key, lambda: _fresh(view.cache, session, read))


async def _through(
    session: AsyncSession, tenant: Tenant, areas: Sequence[Area], key: str | None, read: Read[T]
) -> T:
    cache = cache_of(session)
    if cache is None or key is None:
        return await read(session)
    view = await cache.view(tenant.id, areas)
    return await _get(view, session, areas, key, read)


async def home_sections(session: AsyncSession, tenant: Tenant) -> list[HomeSection]:
    return await _through(session, tenant, HOME, "home", lambda s: reads.home_sections(s, tenant))


async def category_tree(session: AsyncSession, tenant: Tenant) -> list[CategoryBranch]:
    return await _through(session, tenant, ("catalog",), "tree", lambda s: mall_tree(s, tenant))


async def category_shelf(
    session: AsyncSession, tenant: Tenant, category_public_id: str
) -> CategoryShelf:
    return await _through(
        session,
        tenant,
        ("catalog",),
        _key("c", category_public_id),
        lambda s: reads.category_shelf(s, tenant, category_public_id),
    )


async def product_page(
    session: AsyncSession, tenant: Tenant, product_public_id: str
) -> tuple[ShelfProduct, dict[str, PickerStock]]:
    """The product as every visitor sees it, and its SKUs' free units online and in stores.
    Raises NotFound as ``shelf.product_page`` does (an unpublished product at once: its
    event emptied the catalog)."""
    cache, key = cache_of(session), _key("p", product_public_id)
    if cache is None or key is None:
        item = await shelf.product_page(session, tenant, product_public_id)
        return item, await reads.picker_stock(session, tenant, [s.id for s in item.skus])
    view = await cache.view(tenant.id, PRODUCT_STOCK)

    async def plain(s: AsyncSession) -> dict[str, Any]:
        return (await shelf.product_page(s, tenant, product_public_id)).to_plain()

    item = ShelfProduct.from_plain(await _get(view, session, ("catalog",), key, plain))
    sku_ids = [s.id for s in item.skus]
    stock = await _get(
        view, session, PRODUCT_STOCK, key, lambda s: reads.picker_stock(s, tenant, sku_ids)
    )
    return item, stock


async def store_card(session: AsyncSession, tenant: Tenant, store_public_id: str) -> StoreCard:
    """An open store as the mall shows it; NotFound as ``store_reads.open_store``."""

    async def plain(s: AsyncSession) -> dict[str, Any]:
        return asdict(await open_store(s, tenant, store_public_id))

    found = await _through(session, tenant, ("stores",), _key("st", store_public_id), plain)
    return StoreCard(**found)


async def stores_page(
    session: AsyncSession,
    tenant: Tenant,
    *,
    q: str | None,
    near: Point | None,
    cursor: str | None,
    limit: int,
) -> StorePage:
    """A page of the mall's open stores as ``store_reads.open_stores_page`` reads it; the
    list's first page by name (no search, no position, no cursor), the one every visitor
    opening the list sees, through the cache. Searches and later pages are read as they come:
    their keys would be whatever visitors type."""
    if q or near is not None or cursor:
        return await open_stores_page(session, tenant, q=q, near=near, cursor=cursor, limit=limit)

    async def plain(s: AsyncSession) -> dict[str, Any]:
        return asdict(await open_stores_page(s, tenant, limit=limit))

    found = await _through(session, tenant, ("stores",), f"stores:{int(limit)}", plain)
    return StorePage([StoreCard(**s) for s in found["stores"]], found["next_cursor"])
