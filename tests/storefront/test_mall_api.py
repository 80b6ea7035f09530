"""The mall's catalog API (issue #13): GET /api/v1/mall/{slug}/categories, /products (paged)
and /products/{product}, read as a mini-program does: the same data as the mall pages, a
problem+json 404 for anything not on sale online in this mall, and a pinned number of
statements at any size."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from loopmall.catalog.categories import create_category
from loopmall.catalog.schemas import CategoryIn, ProductIn, ProductPatch, SkuIn, SkuPatch
from loopmall.catalog.service import create_product, update_product, update_sku
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Customer
from loopmall.members.service import join
from tests.factories import make_merchant
from tests.o2o.world import api_login
from tests.reads import reading
from tests.storefront.seed import Mall, seed_mall
from tests.storefront.test_reads import _grow

API = "/api/v1/mall/vero"


@pytest.fixture
async def mall(state: AppState) -> Mall:
    return await seed_mall(state)


async def _products(state: AppState, mall: Mall, titles: list[str], category: str) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        for title in titles:
            await create_product(
                uow.session,
                mall.tenant,
                ProductIn(
                    title=title, status="active", category=category, skus=[SkuIn(price=1000)]
                ),
            )
        await uow.commit()


async def test_the_categories_come_as_a_tree(
    client: httpx.AsyncClient, state: AppState, mall: Mall
) -> None:
    # Given 外套 with a subcategory 羽绒服, and a second top category
    async with UnitOfWork(state.write_factory) as uow:
        down = await create_category(
            uow.session, mall.tenant, CategoryIn(name="羽绒服", parent=mall.category)
        )
        shoes = await create_category(uow.session, mall.tenant, CategoryIn(name="鞋"))
        await uow.commit()

    # When the mini-program reads the categories
    response = await client.get(f"{API}/categories")

    # Then it gets the tree
    assert response.status_code == 200, response.text
    assert response.json() == [
        {
            "id": mall.category,
            "name": "外套",
            "children": [{"id": down.public_id, "name": "羽绒服", "children": []}],
        },
        {"id": shoes.public_id, "name": "鞋", "children": []},
    ]


async def test_products_come_a_page_at_a_time_newest_first(
    client: httpx.AsyncClient, state: AppState, mall: Mall
) -> None:
    # Given five more products in a subcategory of 外套 (the coat is the oldest)
    async with UnitOfWork(state.write_factory) as uow:
        sub = await create_category(
            uow.session, mall.tenant, CategoryIn(name="羽绒服", parent=mall.category)
        )
        await uow.commit()
    titles = [f"羽绒服{i}" for i in range(5)]
    await _products(state, mall, titles, sub.public_id)

    # When the mini-program pages through 外套 two at a time
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2", "category": mall.category} | ({"cursor": cursor} if cursor else {})
        got = await client.get(f"{API}/products", params=params)
        assert got.status_code == 200, got.text
        seen += [p["title"] for p in got.json()["items"]]
        pages, cursor = pages + 1, got.json()["next_cursor"]
        if cursor is None:
            break

    # Then every product on sale online came once, newest first, in three pages
    assert (pages, seen) == (3, [*titles[::-1], "羊毛大衣"])
    # And a card carries the online and WeChat prices
    everything = (await client.get(f"{API}/products", params={"limit": "50"})).json()["items"]
    coat = next(p for p in everything if p["id"] == mall.coat)
    assert coat == {
        "id": mall.coat,
        "title": "羊毛大衣",
        "thumbnail": None,
        "price_min_fen": 59900,
        "price_max_fen": 59900,
        "wechat_min_fen": 49900,
    }
    assert {p["id"] for p in everything}.isdisjoint({mall.draft, mall.store_only})


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "WyJ4Il0"},  # a cursor that is not an id
        {"cursor": "MA"},  # 0
        {"limit": "51"},
        {"limit": "0"},
        {"category": "not an id"},
    ],
)
async def test_a_bad_cursor_limit_or_category_is_refused(
    client: httpx.AsyncClient, mall: Mall, params: dict[str, str]
) -> None:
    response = await client.get(f"{API}/products", params=params)
    assert response.status_code == 422, response.text


async def test_an_unknown_category_or_mall_is_not_found(
    client: httpx.AsyncClient, state: AppState, mall: Mall
) -> None:
    other = await make_merchant(state, "acme", "Acme")
    async with UnitOfWork(state.write_factory) as uow:
        theirs = await create_category(uow.session, other, CategoryIn(name="别人的"))
        await uow.commit()
    for path, params in (
        (f"{API}/products", {"category": theirs.public_id}),
        (f"{API}/products", {"category": "cat_0000doesnotexist"}),
        ("/api/v1/mall/nobody/products", {}),
        ("/api/v1/mall/nobody/categories", {}),
    ):
        response = await client.get(path, params=params)
        assert response.status_code == 404, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_product_with_its_skus_prices_and_stock(
    client: httpx.AsyncClient, mall: Mall
) -> None:
    response = await client.get(f"{API}/products/{mall.coat}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["title"], body["category"], body["member_prices"]) == (
        "羊毛大衣",
        {"id": mall.category, "name": "外套"},
        False,
    )
    assert body["option_names"] == ["颜色", "尺码"]
    skus = {s["id"]: s for s in body["skus"]}
    assert skus[mall.skus["黑/M"]] == {
        "id": mall.skus["黑/M"],
        "options": {"颜色": "黑", "尺码": "M"},
        "price_fen": 59900,
        "wechat_price_fen": 49900,
        "online": 5,
        "in_stores": 0,
    }
    camel_l = skus[mall.skus["驼/L"]]
    assert (camel_l["price_fen"], camel_l["online"], camel_l["in_stores"]) == (59900, 0, 2)


async def test_a_member_sees_member_prices(
    client: httpx.AsyncClient, state: AppState, mall: Mall
) -> None:
    # Given black M with a member price of 450 yuan, and a shopper who becomes a member
    async with UnitOfWork(state.write_factory) as uow:
        await update_sku(uow.session, mall.tenant, mall.skus["黑/M"], SkuPatch(member_price=45000))
        await uow.commit()
    shopper = await api_login(client, "vero", "阿花")
    before = (await client.get(f"{API}/products/{mall.coat}", headers=shopper)).json()
    async with UnitOfWork(state.write_factory) as uow:
        customer_id = await uow.session.scalar(
            select(Customer.id).where(Customer.merchant_id == mall.tenant.id)
        )
        assert customer_id is not None
        await join(uow.session, mall.tenant, customer_id, offer=None)
        await uow.commit()

    # When the member reads the coat, and someone not signed in does
    member = (await client.get(f"{API}/products/{mall.coat}", headers=shopper)).json()
    anonymous = (await client.get(f"{API}/products/{mall.coat}")).json()

    # Then only the member sees the member price (the WeChat price no longer lower: gone)
    def black_m(body: dict[str, Any]) -> tuple[Any, ...]:
        found = next(s for s in body["skus"] if s["id"] == mall.skus["黑/M"])
        return body["member_prices"], found["price_fen"], found["wechat_price_fen"]

    assert black_m(before) == (False, 59900, 49900)
    assert black_m(member) == (True, 45000, None)
    assert black_m(anonymous) == (False, 59900, 49900)


@pytest.mark.parametrize("which", ["draft", "store_only", "archived", "unknown", "other"])
async def test_a_product_not_on_sale_online_here_is_a_problem_404(
    client: httpx.AsyncClient, state: AppState, mall: Mall, which: str
) -> None:
    # Given a product that is a draft, store-only, archived, unknown, or another merchant's
    public_id = {"draft": mall.draft, "store_only": mall.store_only}.get(which, "prd_doesnotexist0")
    if which == "archived":
        async with UnitOfWork(state.write_factory) as uow:
            await update_product(
                uow.session, mall.tenant, mall.coat, ProductPatch(status="archived")
            )
            await uow.commit()
        public_id = mall.coat
    if which == "other":
        other = await make_merchant(state, "acme", "Acme")
        async with UnitOfWork(state.write_factory) as uow:
            made = await create_product(
                uow.session, other, ProductIn(title="别家", status="active", skus=[SkuIn(price=1)])
            )
            await uow.commit()
        public_id = made.product.public_id
        assert (await client.get(f"/api/v1/mall/acme/products/{public_id}")).status_code == 200

    # When VERO's mall is asked for it
    response = await client.get(f"{API}/products/{public_id}")

    # Then it is not found, as a problem
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "not_found"


async def test_each_read_is_a_pinned_number_of_statements_at_any_size(
    client: httpx.AsyncClient, state: AppState, mall: Mall
) -> None:
    # Given the mall at one size, then ten times the products, SKUs, stores and categories
    paths = {
        "categories": (f"{API}/categories", {}),
        "products": (f"{API}/products", {"limit": "50"}),
        "category's products": (f"{API}/products", {"category": mall.category}),
        "product": (f"{API}/products/{mall.coat}", {}),
    }
    counts = []
    for start, grow in ((0, 2), (2, 18)):
        await _grow(state, mall, grow, start=start)
        seen = {}
        for name, (path, params) in paths.items():
            state.readcache.clear_local()  # built from the database, not the read cache
            with reading(state) as reads:
                assert (await client.get(path, params=params)).status_code == 200
            seen[name] = len(reads.statements)
        counts.append(seen)
    warm = {}
    for name in ("categories", "product"):
        path, params = paths[name]
        await client.get(path, params=params)
        with reading(state) as reads:
            assert (await client.get(path, params=params)).status_code == 200
        warm[name] = len(reads.statements)

    # Then each reads the same statements at both sizes: the mall, then its own reads
    pinned = {"categories": 2, "products": 3, "category's products": 4, "product": 5}
    assert counts == [pinned, pinned]
    # And read again, the tree and the product come from the read cache: the mall only (the
    # product's stock, after its short bound on a slow run, one more)
    assert warm["categories"] == 1 and warm["product"] in (1, 2)
