"""Channel prices (online, 微信价, per store), member prices, and quotes over the API and
through ``quote_sku``, the function checkout calls."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loopmall.catalog import prices
from loopmall.catalog.errors import NotForSale
from loopmall.catalog.pricing import PriceQuote
from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from tests.catalog.conftest import Owner, catalog_counts, create_product, make_store, sku


async def put_price(
    client: httpx.AsyncClient, headers: dict[str, str], sku_id: str, **body: Any
) -> httpx.Response:
    return await client.put(f"/api/v1/skus/{sku_id}/prices", json=body, headers=headers)


async def quote(
    client: httpx.AsyncClient, headers: dict[str, str], sku_id: str, query: str
) -> tuple[int, str]:
    r = await client.get(f"/api/v1/skus/{sku_id}/quote?{query}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["amount"], r.json()["rule"]


@pytest.fixture
async def priced(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> tuple[Tenant, dict[str, str], str, str, str]:
    """A SKU at base ¥99 (members ¥89) with online ¥95, 微信价 ¥79, 南京西路 ¥105 (members
    ¥92); and a second store without a price. Returns tenant, headers, sku, both stores."""
    tenant, headers = owner
    nanjing = await make_store(state, tenant, "SH001", "南京西路店")
    xuhui = await make_store(state, tenant, "SH002", "徐汇店")
    product = await create_product(client, headers)
    sku_id = product["skus"][0]["id"]
    for body in (
        {"channel": "online", "price": 9500},
        {"channel": "wechat", "price": 7900},
        {"channel": "store", "store": nanjing, "price": 10500, "member_price": 9200},
    ):
        r = await put_price(client, headers, sku_id, **body)
        assert r.status_code == 200, r.text
    return tenant, headers, sku_id, nanjing, xuhui


async def test_channel_prices_are_listed_on_the_sku(
    client: httpx.AsyncClient, priced: tuple[Tenant, dict[str, str], str, str, str]
) -> None:
    _tenant, headers, sku_id, nanjing, _xuhui = priced
    got = (await client.get(f"/api/v1/skus/{sku_id}", headers=headers)).json()
    assert got["prices"] == [
        {
            "channel": "online",
            "store": None,
            "store_name": None,
            "price": 9500,
            "member_price": None,
        },
        {
            "channel": "store",
            "store": nanjing,
            "store_name": "南京西路店",
            "price": 10500,
            "member_price": 9200,
        },
        {
            "channel": "wechat",
            "store": None,
            "store_name": None,
            "price": 7900,
            "member_price": None,
        },
    ]


@pytest.mark.parametrize(
    ("query", "amount", "rule"),
    [
        ("channel=online", 9500, "online"),
        ("channel=online&member=true", 8900, "member"),
        ("channel=wechat", 7900, "wechat"),
        ("channel=wechat&member=true", 7900, "wechat"),
        ("channel=store&store={nanjing}", 10500, "store"),
        ("channel=store&store={nanjing}&member=true", 9200, "store_member"),
        ("channel=store&store={xuhui}", 9900, "base"),
        ("channel=store&store={xuhui}&member=true", 8900, "member"),
    ],
)
async def test_quotes_follow_the_precedence(
    client: httpx.AsyncClient,
    priced: tuple[Tenant, dict[str, str], str, str, str],
    query: str,
    amount: int,
    rule: str,
) -> None:
    _tenant, headers, sku_id, nanjing, xuhui = priced
    q = query.format(nanjing=nanjing, xuhui=xuhui)
    assert await quote(client, headers, sku_id, q) == (amount, rule)


async def test_setting_again_replaces_and_clearing_falls_back(
    state: AppState,
    client: httpx.AsyncClient,
    priced: tuple[Tenant, dict[str, str], str, str, str],
) -> None:
    tenant, headers, sku_id, nanjing, _xuhui = priced
    r = await put_price(client, headers, sku_id, channel="wechat", price=6900, member_price=6500)
    wechat = [p for p in r.json()["prices"] if p["channel"] == "wechat"]
    assert [(p["price"], p["member_price"]) for p in wechat] == [(6900, 6500)]
    assert (await catalog_counts(state, tenant))["channel_prices"] == 3
    assert await quote(client, headers, sku_id, "channel=wechat&member=true") == (
        6500,
        "wechat_member",
    )

    r = await client.delete(f"/api/v1/skus/{sku_id}/prices?channel=wechat", headers=headers)
    assert r.status_code == 204
    assert await quote(client, headers, sku_id, "channel=wechat") == (9500, "online")
    r = await client.delete(
        f"/api/v1/skus/{sku_id}/prices?channel=store&store={nanjing}", headers=headers
    )
    assert r.status_code == 204
    assert await quote(client, headers, sku_id, f"channel=store&store={nanjing}") == (9900, "base")
    assert (await catalog_counts(state, tenant))["channel_prices"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "wechat", "price": 12.5},
        {"channel": "wechat", "price": "12"},
        {"channel": "wechat", "price": -1},
        {"channel": "wechat", "price": True},
        {"channel": "wechat", "price": 100, "member_price": 101},
        {"channel": "wechat", "price": 100, "member_price": 1.0},
        {"channel": "store", "price": 100},  # no store
        {"channel": "online", "store": "st_0000000000000000", "price": 100},
        {"channel": "taobao", "price": 100},
    ],
)
async def test_bad_channel_prices_change_nothing(
    state: AppState,
    client: httpx.AsyncClient,
    priced: tuple[Tenant, dict[str, str], str, str, str],
    body: dict[str, Any],
) -> None:
    tenant, headers, sku_id, _nanjing, _xuhui = priced
    before = (await client.get(f"/api/v1/skus/{sku_id}", headers=headers)).json()
    r = await put_price(client, headers, sku_id, **body)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    assert (await client.get(f"/api/v1/skus/{sku_id}", headers=headers)).json() == before
    assert (await catalog_counts(state, tenant))["channel_prices"] == 3


async def test_another_merchants_store_is_not_found(
    state: AppState,
    client: httpx.AsyncClient,
    priced: tuple[Tenant, dict[str, str], str, str, str],
    rival: Owner,
) -> None:
    tenant, headers, sku_id, _nanjing, _xuhui = priced
    rival_tenant, _rival_headers = rival
    theirs = await make_store(state, rival_tenant, "R001", "对手店")
    before = await catalog_counts(state, tenant)
    r = await put_price(client, headers, sku_id, channel="store", store=theirs, price=1)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    assert await catalog_counts(state, tenant) == before
    r = await client.get(
        f"/api/v1/skus/{sku_id}/quote?channel=store&store={theirs}", headers=headers
    )
    assert r.status_code == 404
    r = await client.delete(
        f"/api/v1/skus/{sku_id}/prices?channel=store&store={theirs}", headers=headers
    )
    assert r.status_code == 404


async def test_online_only_and_store_only_items(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    store = await make_store(state, tenant, "S1", "门店")
    body = {
        "title": "门店限定",
        "status": "active",
        "sales_scope": "store_only",
        "option_names": ["款式"],
        "skus": [sku({"款式": "A"}, 1000), sku({"款式": "B"}, 1000, sales_scope="all")],
    }
    product = await create_product(client, headers, body)
    store_only, everywhere = (s["id"] for s in product["skus"])

    for channel in ("online", "wechat"):
        r = await client.get(f"/api/v1/skus/{store_only}/quote?channel={channel}", headers=headers)
        assert r.status_code == 422
        assert r.json()["code"] == "not_sold_in_channel"
        assert await quote(client, headers, everywhere, f"channel={channel}") == (1000, "base")
    assert await quote(client, headers, store_only, f"channel=store&store={store}") == (
        1000,
        "base",
    )

    r = await client.patch(
        f"/api/v1/skus/{everywhere}", json={"sales_scope": "online_only"}, headers=headers
    )
    r = await client.get(
        f"/api/v1/skus/{everywhere}/quote?channel=store&store={store}", headers=headers
    )
    assert r.status_code == 422
    assert r.json()["code"] == "not_sold_in_channel"


async def test_items_off_sale_cannot_be_quoted(client: httpx.AsyncClient, owner: Owner) -> None:
    _tenant, headers = owner
    draft = await create_product(client, headers, {"title": "草稿", "skus": [sku({}, 100)]})
    r = await client.get(
        f"/api/v1/skus/{draft['skus'][0]['id']}/quote?channel=online", headers=headers
    )
    assert (r.status_code, r.json()["code"]) == (422, "not_for_sale")

    live = await create_product(client, headers)
    target = live["skus"][0]["id"]
    await client.patch(f"/api/v1/skus/{target}", json={"status": "inactive"}, headers=headers)
    r = await client.get(f"/api/v1/skus/{target}/quote?channel=online", headers=headers)
    assert (r.status_code, r.json()["code"]) == (422, "not_for_sale")


@pytest.mark.parametrize(
    "query", ["channel=store", "channel=online&store=st_0000000000000000", "channel=mall", ""]
)
async def test_bad_quote_queries(
    client: httpx.AsyncClient, priced: tuple[Tenant, dict[str, str], str, str, str], query: str
) -> None:
    _tenant, headers, sku_id, _nanjing, _xuhui = priced
    r = await client.get(f"/api/v1/skus/{sku_id}/quote?{query}", headers=headers)
    assert r.status_code == 422


async def test_quote_sku_service_for_checkout(
    state: AppState, priced: tuple[Tenant, dict[str, str], str, str, str]
) -> None:
    tenant, _headers, sku_id, nanjing, _xuhui = priced
    async with UnitOfWork(state.read_factory) as uow:
        got = await prices.quote_sku(
            uow.session, tenant, sku_id, channel="store", store_public_id=nanjing, is_member=True
        )
        assert got == PriceQuote(amount=9200, list_price=10500, rule="store_member")
        both = await prices.quote_skus(uow.session, tenant, [sku_id, sku_id], channel="wechat")
        assert both == {sku_id: PriceQuote(7900, 7900, "wechat")}
        with pytest.raises(NotFound):
            await prices.quote_sku(uow.session, tenant, "sku_0000000000000000", channel="online")
        with pytest.raises(ValidationFailed) as err:
            await prices.quote_skus(uow.session, tenant, [sku_id], channel="taobao")
        assert err.value.extra == {"field": "channel"}


async def test_quote_skus_refuses_a_whole_cart_with_one_item_off_sale(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    live = await create_product(client, headers)
    draft = await create_product(client, headers, {"title": "草稿", "skus": [sku({}, 100)]})
    async with UnitOfWork(state.read_factory) as uow:
        with pytest.raises(NotForSale) as err:
            await prices.quote_skus(
                uow.session,
                tenant,
                [live["skus"][0]["id"], draft["skus"][0]["id"]],
                channel="online",
            )
    assert err.value.extra == {"sku": draft["skus"][0]["id"]}
