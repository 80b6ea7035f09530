"""Each change a shopper can see empties the read cache through its typed event, at once:
the next read after the commit is built anew and shows the change — on both databases, on
the embedded default and with Redis, and across two app processes sharing one Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.app import create_app
from loopmall.catalog import categories, prices
from loopmall.catalog import service as catalog
from loopmall.catalog.models import Category, ChannelPrice, Product, Sku
from loopmall.catalog.schemas import (
    CategoryIn,
    CategoryPatch,
    ChannelPriceIn,
    ProductIn,
    ProductPatch,
    SkuIn,
    SkuPatch,
)
from loopmall.config import Settings
from loopmall.core.readcache import AREAS, Area, ReadCache, get_or_build
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.inventory import holds, locations
from loopmall.inventory import service as inventory
from loopmall.inventory.models import StockLevel
from loopmall.merchants import bulk, mall, stores
from loopmall.merchants.models import MallSettings, Merchant, Store
from loopmall.merchants.service import set_merchant_status
from tests.factories import make_merchant

# --- what each area shows, read straight from the tables --------------------------------


async def _catalog(session: AsyncSession, tenant: Tenant) -> Any:
    products = await session.execute(
        select(Product.public_id, Product.title, Product.status)
        .where(Product.merchant_id == tenant.id)
        .order_by(Product.id)
    )
    skus = await session.execute(
        select(Sku.public_id, Sku.price, Sku.member_price, Sku.status)
        .where(Sku.merchant_id == tenant.id)
        .order_by(Sku.id)
    )
    channel = await session.execute(
        select(ChannelPrice.channel_key, ChannelPrice.price)
        .where(ChannelPrice.merchant_id == tenant.id)
        .order_by(ChannelPrice.id)
    )
    names = await session.scalars(
        select(Category.name).where(Category.merchant_id == tenant.id).order_by(Category.id)
    )
    return [[list(r) for r in rows] for rows in (products, skus, channel)] + [list(names)]


async def _mall(session: AsyncSession, tenant: Tenant) -> Any:
    row = (
        await session.execute(
            select(MallSettings.mall_name, MallSettings.primary_color).where(
                MallSettings.merchant_id == tenant.id
            )
        )
    ).first()
    status = await session.scalar(select(Merchant.status).where(Merchant.id == tenant.id))
    return [list(row) if row else None, status]


async def _stores(session: AsyncSession, tenant: Tenant) -> Any:
    rows = await session.execute(
        select(Store.code, Store.name, Store.status)
        .where(Store.merchant_id == tenant.id)
        .order_by(Store.code)
    )
    return [list(r) for r in rows]


async def _stock(session: AsyncSession, tenant: Tenant) -> Any:
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(StockLevel.on_hand - StockLevel.held), 0)).where(
                StockLevel.merchant_id == tenant.id
            )
        )
        or 0
    )


SHOWN: dict[Area, Callable[[AsyncSession, Tenant], Awaitable[Any]]] = {
    "catalog": _catalog,
    "mall": _mall,
    "stores": _stores,
    "stock": _stock,
}


async def fresh(state: AppState, tenant: Tenant, area: Area) -> Any:
    async with UnitOfWork(state.read_factory) as uow:
        return await SHOWN[area](uow.session, tenant)


async def cached(state: AppState, cache: ReadCache, tenant: Tenant, area: Area) -> Any:
    return await get_or_build(cache, tenant.id, area, "shown", lambda: fresh(state, tenant, area))


# --- the world and the changes ----------------------------------------------------------


@dataclass
class World:
    tenant: Tenant
    merchant: str
    product: str
    sku: str
    sku_id: int
    category: str
    store: str
    location_id: int
    hold_id: int = 0


async def build_world(state: AppState) -> World:
    tenant = await make_merchant(state)
    async with UnitOfWork(state.write_factory) as uow:
        s = uow.session
        category = await categories.create_category(s, tenant, CategoryIn(name="上衣"))
        detail = await catalog.create_product(
            s,
            tenant,
            ProductIn(title="T恤", status="active", skus=[SkuIn(price=9900)]),  # type: ignore[arg-type]
        )
        store = await stores.create_store(s, tenant, code="S001", name="南京路店")
        online = await locations.default_warehouse(s, tenant)
        sku = detail.skus[0]
        await inventory.adjust_stock(
            s,
            tenant,
            sku_id=sku.sku.id,
            location_id=online.id,
            delta=1,
            reason="first delivery",
            actor="system",
            kind="receive",
        )
        merchant = await s.scalar(select(Merchant.public_id).where(Merchant.id == tenant.id))
        await uow.commit()
    assert merchant is not None
    return World(
        tenant,
        merchant,
        detail.product.public_id,
        sku.sku.public_id,
        sku.sku.id,
        category.public_id,
        store.public_id,
        online.id,
    )


Change = Callable[[AsyncSession, World], Awaitable[Any]]


async def _hold_last_unit(s: AsyncSession, w: World) -> None:
    hold = await holds.place_hold(
        s,
        w.tenant,
        sku_id=w.sku_id,
        location_id=w.location_id,
        quantity=1,
        ttl=timedelta(minutes=15),
        reason="order",
        reference="order 1",
        actor="system",
    )
    w.hold_id = hold.id


async def _release(s: AsyncSession, w: World) -> None:
    await holds.release_hold(s, w.tenant, w.hold_id, actor="system")


def _upsert(s: AsyncSession, w: World) -> Awaitable[Any]:
    records = [bulk.StoreRecord(row=2, code="S001", name="南京东路店")]
    return bulk.upsert_stores(s, w.tenant, records, frozenset({"name"}))


def product_status(status: str) -> Change:
    patch = ProductPatch.model_validate({"status": status})
    return lambda s, w: catalog.update_product(s, w.tenant, w.product, patch)


CHANGES: list[tuple[str, tuple[Area, ...], Change]] = [
    (
        "product created",
        ("catalog",),
        lambda s, w: catalog.create_product(
            s, w.tenant, ProductIn(title="卫衣", skus=[SkuIn(price=19900)])
        ),
    ),
    (
        "product edited",
        ("catalog",),
        lambda s, w: catalog.update_product(s, w.tenant, w.product, ProductPatch(title="新T恤")),
    ),
    (
        "product unpublished",
        ("catalog",),
        product_status("archived"),
    ),
    (
        "product published",
        ("catalog",),
        product_status("active"),
    ),
    (
        "sku price",
        ("catalog",),
        lambda s, w: catalog.update_sku(s, w.tenant, w.sku, SkuPatch(price=8900)),
    ),
    (
        "member price",
        ("catalog",),
        lambda s, w: catalog.update_sku(s, w.tenant, w.sku, SkuPatch(member_price=7900)),
    ),
    (
        "channel price set",
        ("catalog",),
        lambda s, w: prices.set_channel_price(
            s,
            w.tenant,
            w.sku,
            ChannelPriceIn(channel="store", store=w.store, price=8500),  # type: ignore[arg-type]
        ),
    ),
    (
        "channel price cleared",
        ("catalog",),
        lambda s, w: prices.clear_channel_price(s, w.tenant, w.sku, "store", w.store),
    ),
    (
        "category created",
        ("catalog",),
        lambda s, w: categories.create_category(s, w.tenant, CategoryIn(name="裤子")),
    ),
    (
        "category renamed",
        ("catalog",),
        lambda s, w: categories.update_category(
            s, w.tenant, w.category, CategoryPatch(name="上装")
        ),
    ),
    (
        "mall settings",
        ("mall",),
        lambda s, w: mall.update_mall_settings(s, w.tenant, mall_name="新店名"),
    ),
    (
        "mall look",
        ("mall",),
        lambda s, w: mall.update_mall_settings(s, w.tenant, primary_color="#112233"),
    ),
    (
        "store created",
        ("stores",),
        lambda s, w: stores.create_store(s, w.tenant, code="S002", name="淮海路店"),
    ),
    (
        "store closed",
        ("stores", "stock"),
        lambda s, w: stores.update_store(s, w.tenant, w.store, {"status": "closed"}),
    ),
    ("stores imported", ("stores",), _upsert),
    ("sold out", ("stock",), _hold_last_unit),
    ("back in stock", ("stock",), _release),
    (
        "goods received",
        ("stock",),
        lambda s, w: inventory.adjust_stock(
            s,
            w.tenant,
            sku_id=w.sku_id,
            location_id=w.location_id,
            delta=5,
            reason="delivery",
            actor="system",
            kind="receive",
        ),
    ),
    (
        "merchant suspended",
        ("mall", "catalog", "stores", "stock"),
        lambda s, w: set_merchant_status(s, w.merchant, "suspended"),
    ),
]


async def change(state: AppState, world: World, work: Change) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        await work(uow.session, world)
        await uow.commit()


# --- fixtures: the app on the embedded default, or with Redis ----------------------------


@pytest.fixture(params=["embedded", "redis"])
async def cached_state(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> AsyncIterator[AppState]:
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        prefix: str = request.getfixturevalue("redis_prefix")
        settings = settings.model_copy(update={"redis_url": url, "redis_prefix": prefix})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        state: AppState = app.state.loopmall
        yield state
        if state.redis is not None:
            keys = [k async for k in state.redis.scan_iter(f"{settings.redis_prefix}*")]
            if keys:
                await state.redis.delete(*keys)


async def test_each_change_is_seen_on_the_next_read(cached_state: AppState) -> None:
    state, cache = cached_state, cached_state.readcache
    world = await build_world(state)
    for name, areas, work in CHANGES:
        before = {area: await cached(state, cache, world.tenant, area) for area in AREAS}
        builds = cache.stats["builds"]
        # Nothing changed yet: every area comes from the cache.
        assert {area: await cached(state, cache, world.tenant, area) for area in AREAS} == before
        assert cache.stats["builds"] == builds, name

        generations = (await cache.view(world.tenant.id, AREAS)).generations
        assert generations is not None

        await change(state, world, work)

        after = (await cache.view(world.tenant.id, AREAS)).generations
        assert after is not None
        assert {a for a in AREAS if after[a] != generations[a]} >= set(areas), name
        # The first area named is one whose rows the change moved; it is read anew.
        now = await fresh(state, world.tenant, areas[0])
        assert now != before[areas[0]], f"{name} changed nothing in {areas[0]}"
        assert await cached(state, cache, world.tenant, areas[0]) == now, f"{name}: stale"


async def test_an_unpublished_product_is_gone_on_the_next_read(cached_state: AppState) -> None:
    state = cached_state
    world = await build_world(state)

    async def product_page() -> Any:
        async def build() -> Any:
            async with UnitOfWork(state.read_factory) as uow:
                return await uow.session.scalar(
                    select(Product.title).where(
                        Product.merchant_id == world.tenant.id,
                        Product.public_id == world.product,
                        Product.status == "active",
                    )
                )

        return await get_or_build(
            state.readcache, world.tenant.id, "catalog", f"p:{world.product}", build
        )

    assert await product_page() == "T恤"
    assert await product_page() == "T恤"
    await change(state, world, product_status("draft"))
    assert await product_page() is None  # the page answers 404 from this


async def test_a_rolled_back_change_bumps_nothing(cached_state: AppState) -> None:
    state = cached_state
    world = await build_world(state)
    view = await state.readcache.view(world.tenant.id, AREAS)
    async with UnitOfWork(state.write_factory) as uow:
        await catalog.update_sku(uow.session, world.tenant, world.sku, SkuPatch(price=1))
        await uow.rollback()
        await uow.commit()  # commits nothing: the events went with the rollback
    assert (await state.readcache.view(world.tenant.id, AREAS)).generations == view.generations


async def test_a_change_in_one_process_is_seen_by_another_sharing_redis(
    settings: Settings, redis_url: str, redis_prefix: str
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url, "redis_prefix": redis_prefix})
    app = create_app(settings)
    other_redis = aioredis.from_url(redis_url, decode_responses=True)
    # A second app process: its own client and its own values, the same Redis.
    other = ReadCache(redis=other_redis, prefix=redis_prefix)
    try:
        async with app.router.lifespan_context(app):
            state: AppState = app.state.loopmall
            world = await build_world(state)
            first = await cached(state, other, world.tenant, "catalog")
            assert await cached(state, other, world.tenant, "catalog") == first

            await change(
                state,
                world,
                lambda s, w: catalog.update_sku(s, w.tenant, w.sku, SkuPatch(price=4200)),
            )

            seen = await cached(state, other, world.tenant, "catalog")
            assert seen != first
            assert seen == await fresh(state, world.tenant, "catalog")
    finally:
        keys = [k async for k in other_redis.scan_iter(f"{redis_prefix}*")]
        if keys:
            await other_redis.delete(*keys)
        await other_redis.aclose()


async def test_the_durable_subscriber_bumps_what_a_dead_process_did_not(
    state: AppState,
) -> None:
    """A process that committed but died before its bump: the outbox still delivers the
    event, and its subscriber bumps the generations."""
    world = await build_world(state)
    await state.extras["dispatcher"].drain()
    cache = state.readcache
    first = await cached(state, cache, world.tenant, "catalog")
    # The change commits through a session that carries no cache: nothing bumps after it.
    bare = state.write_factory.kw.get("info", {})
    assert "loopmall.readcache" in bare
    async with UnitOfWork(state.write_factory) as uow:
        uow.session.info.pop("loopmall.readcache")
        await catalog.update_sku(uow.session, world.tenant, world.sku, SkuPatch(price=3300))
        await uow.commit()
    assert await cached(state, cache, world.tenant, "catalog") == first  # not yet forgotten

    await state.extras["dispatcher"].drain()

    assert await cached(state, cache, world.tenant, "catalog") == await fresh(
        state, world.tenant, "catalog"
    )
