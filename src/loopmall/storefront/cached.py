"""The mall's reads that are the same for every visitor, through the app's read cache
(``core.readcache``, ADR 0010). A page calls these instead of ``storefront.reads`` and
``catalog.shelf`` directly; what differs per visitor (member prices, the cart, login) it
still applies afterwards.

Each value is filed under the generations of every area it was read from, so the typed event
of any change to those (``storefront.handlers``) makes the next request read it anew: the home
page under mall + catalog + stores, a product under catalog, its stock under catalog + stock
(the SKUs it counts come from the catalog), a store and the store list's first page under
stores. The generations are read before the request's
session reads anything, so a value is never older than the generation it is filed under.

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
from loopmall.core.readcache import Area, cache_of
from loopmall.core.tenancy import Tenant
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

HOME: tuple[Area, ...] = ("mall", "catalog", "stores")
PRODUCT_STOCK: tuple[Area, ...] = ("catalog", "stock")
# ``core.ids.new_public_id``: a short prefix, an underscore, 16 base-32 characters.
_PUBLIC_ID = re.compile(r"[a-z]{1,8}_[0-9a-z]{16}")


def _key(kind: str, public_id: str) -> str | None:
    return f"{kind}:{public_id}" if _PUBLIC_ID.fullmatch(public_id) else None


async def _through(
    session: AsyncSession,
    tenant: Tenant,
    areas: Sequence[Area],
    key: str | None,
    build: Callable[[], Awaitable[T]],
) -> T:
    cache = cache_of(session)
    if cache is None or key is None:
        return await build()
    view = await cache.view(tenant.id, areas)
    return await view.get_or_build(tuple(areas), key, build)


async def home_sections(session: AsyncSession, tenant: Tenant) -> list[HomeSection]:
    return await _through(
        session, tenant, HOME, "home", lambda: reads.home_sections(session, tenant)
    )


async def category_tree(session: AsyncSession, tenant: Tenant) -> list[CategoryBranch]:
    return await _through(session, tenant, ("catalog",), "tree", lambda: mall_tree(session, tenant))


async def category_shelf(
    session: AsyncSession, tenant: Tenant, category_public_id: str
) -> CategoryShelf:
    return await _through(
        session,
        tenant,
        ("catalog",),
        _key("c", category_public_id),
        lambda: reads.category_shelf(session, tenant, category_public_id),
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

    async def plain() -> dict[str, Any]:
        return (await shelf.product_page(session, tenant, product_public_id)).to_plain()

    item = ShelfProduct.from_plain(await view.get_or_build("catalog", key, plain))
    stock = await view.get_or_build(
        PRODUCT_STOCK,
        key,
        lambda: reads.picker_stock(session, tenant, [s.id for s in item.skus]),
    )
    return item, stock


async def store_card(session: AsyncSession, tenant: Tenant, store_public_id: str) -> StoreCard:
    """An open store as the mall shows it; NotFound as ``store_reads.open_store``."""

    async def plain() -> dict[str, Any]:
        return asdict(await open_store(session, tenant, store_public_id))

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

    async def plain() -> dict[str, Any]:
        return asdict(await open_stores_page(session, tenant, limit=limit))

    found = await _through(session, tenant, ("stores",), f"stores:{int(limit)}", plain)
    return StorePage([StoreCard(**s) for s in found["stores"]], found["next_cursor"])
