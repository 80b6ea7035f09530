"""The mall's pages through the read cache (storefront.cached): served from it while nothing
changes, and the next page after a change shows it — a price, a product taken off sale (404
at once), the mall's blocks, a store, stock sold out."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from loopmall.app import create_app
from loopmall.catalog import service as catalog
from loopmall.catalog.schemas import ProductPatch, SkuPatch
from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.inventory import holds, locations
from loopmall.inventory.repository import sku_id_for
from loopmall.merchants import mall, stores
from loopmall.merchants.models import Merchant
from loopmall.storefront import cached
from tests.storefront.seed import seed_mall


async def test_pages_come_from_the_cache_until_a_change_empties_it(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await seed_mall(state)
    cache = state.readcache
    paths = [
        "/m/vero/",
        "/m/vero/categories",
        f"/m/vero/c/{shop.category}",
        f"/m/vero/p/{shop.coat}",
    ]
    for path in paths:
        assert (await client.get(path)).status_code == 200, path
    builds = cache.stats["builds"]
    for path in paths:
        assert (await client.get(path)).status_code == 200, path
    assert cache.stats["builds"] == builds  # the second round read nothing it had cached

    async with UnitOfWork(state.write_factory) as uow:
        await catalog.update_sku(uow.session, shop.tenant, shop.skus["黑/M"], SkuPatch(price=45600))
        await uow.commit()
    page = await client.get(f"/m/vero/p/{shop.coat}")
    assert "456" in page.text
    assert cache.stats["builds"] > builds


async def test_a_product_taken_off_sale_is_404_on_the_next_request(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await seed_mall(state)
    assert (await client.get(f"/m/vero/p/{shop.coat}")).status_code == 200
    assert (await client.get(f"/m/vero/p/{shop.coat}")).status_code == 200
    async with UnitOfWork(state.write_factory) as uow:
        await catalog.update_product(
            uow.session,
            shop.tenant,
            shop.coat,
            ProductPatch(status="archived"),  # type: ignore[arg-type]
        )
        await uow.commit()
    assert (await client.get(f"/m/vero/p/{shop.coat}")).status_code == 404
    home = await client.get("/m/vero/")
    assert "羊毛大衣" not in home.text


async def test_the_mall_blocks_change_on_the_next_request(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await seed_mall(state)
    assert "品牌故事" in (await client.get("/m/vero/")).text
    async with UnitOfWork(state.write_factory) as uow:
        await mall.update_mall_settings(
            uow.session, shop.tenant, blocks=[{"type": "article", "title": "新故事", "body": "x"}]
        )
        await uow.commit()
    home = (await client.get("/m/vero/")).text
    assert "新故事" in home
    assert "品牌故事" not in home


def online_units(page: httpx.Response, sku: str) -> int:
    found = re.search(r'id="picker-data">(.*?)</script>', page.text, re.S)
    assert found is not None
    return int(next(s["online"] for s in json.loads(found.group(1))["skus"] if s["sku"] == sku))


async def test_sold_out_shows_on_the_next_request(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await seed_mall(state)
    black_m = shop.skus["黑/M"]
    assert online_units(await client.get(f"/m/vero/p/{shop.coat}"), black_m) == 5
    assert online_units(await client.get(f"/m/vero/p/{shop.coat}"), black_m) == 5
    async with UnitOfWork(state.write_factory) as uow:
        online = await locations.default_warehouse(uow.session, shop.tenant)
        sku_id = await sku_id_for(uow.session, shop.tenant, black_m)
        await holds.place_hold(
            uow.session,
            shop.tenant,
            sku_id=sku_id,
            location_id=online.id,
            quantity=5,
            ttl=timedelta(minutes=15),
            reason="order",
            reference="order 1",
            actor="system",
        )
        await uow.commit()
    # Well inside the stock TTL: the hold's stock.availability_changed emptied it.
    assert online_units(await client.get(f"/m/vero/p/{shop.coat}"), black_m) == 0


async def test_paths_that_are_not_ids_are_not_cached(
    state: AppState, client: httpx.AsyncClient
) -> None:
    await seed_mall(state)
    before = len(state.readcache)
    for n in range(30):
        assert (await client.get(f"/m/vero/p/not-an-id-{n}")).status_code == 404
        assert (await client.get(f"/m/vero/c/{'x' * 300}{n}")).status_code == 404
    assert len(state.readcache) == before


async def test_store_pages_show_a_change_on_the_next_request(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await seed_mall(state)
    async with UnitOfWork(state.read_factory) as uow:
        (store,) = (await stores.list_stores(uow.session, shop.tenant, limit=5))[0]
    page_path = f"/m/vero/stores/{store.public_id}"
    for _ in range(2):
        assert "西单店" in (await client.get("/m/vero/stores")).text
        assert "西单店" in (await client.get(page_path)).text
    builds = state.readcache.stats["builds"]

    async with UnitOfWork(state.write_factory) as uow:
        await stores.update_store(
            uow.session, shop.tenant, store.public_id, {"name": "西单大悦城店"}
        )
        await uow.commit()
    assert "西单大悦城店" in (await client.get("/m/vero/stores")).text
    assert "西单大悦城店" in (await client.get(page_path)).text
    assert state.readcache.stats["builds"] == builds + 2

    async with UnitOfWork(state.write_factory) as uow:
        await stores.update_store(uow.session, shop.tenant, store.public_id, {"status": "closed"})
        await uow.commit()
    assert (await client.get(page_path)).status_code == 404
    assert "西单大悦城店" not in (await client.get("/m/vero/stores")).text


async def test_a_value_is_never_built_from_a_snapshot_older_than_its_generation(
    state: AppState,
) -> None:
    shop = await seed_mall(state)
    async with UnitOfWork(state.read_factory) as request:
        # The request's first read (the mall by its slug): on SQLite its transaction keeps
        # this snapshot to the end.
        await request.session.execute(select(Merchant.id).where(Merchant.slug == "vero"))
        async with UnitOfWork(state.write_factory) as uow:
            await catalog.update_sku(
                uow.session, shop.tenant, shop.skus["黑/M"], SkuPatch(price=12300)
            )
            await uow.commit()  # and its event gives the catalog a new generation

        item, _ = await cached.product_page(request.session, shop.tenant, shop.coat)

    black_m = next(s for s in item.skus if s.public_id == shop.skus["黑/M"])
    assert black_m.price == 12300  # built in a session of its own, not the old snapshot


async def test_with_redis_unreachable_the_pages_read_the_database(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Redis configured, and nobody listening there: every page still answers, read through.
    away = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    app = create_app(away)
    async with app.router.lifespan_context(app):
        state: AppState = app.state.loopmall
        shop = await seed_mall(state)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for path in ("/m/vero/", "/m/vero/categories", f"/m/vero/p/{shop.coat}"):
                assert (await client.get(path)).status_code == 200, path
            async with UnitOfWork(state.write_factory) as uow:
                await catalog.update_sku(
                    uow.session, shop.tenant, shop.skus["黑/M"], SkuPatch(price=45600)
                )
                await uow.commit()  # its bump cannot reach Redis: owed, and logged
            assert "456" in (await client.get(f"/m/vero/p/{shop.coat}")).text
        assert state.readcache.stats["read_through"] >= 3
        assert len(state.readcache) == 0
    said = [r for r in caplog.records if r.name == "loopmall.core.readcache"]
    assert len(said) == 1 and "unreachable" in said[0].message
