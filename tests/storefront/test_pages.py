"""The consumer's mall pages, read as a visitor: the home page is the merchant's blocks,
products appear only when on sale online, prices are the online channel's with the WeChat
price beside them, and the picker carries every SKU with its stock."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from tests.storefront.seed import Mall, seed_mall

HTML = {"Accept": "text/html"}


@pytest.fixture
async def mall(state: AppState) -> Mall:
    return await seed_mall(state)


async def test_home_shows_the_merchants_blocks_in_order(
    client: httpx.AsyncClient, mall: Mall
) -> None:
    response = await client.get("/m/vero/", headers=HTML)
    assert response.status_code == 200
    html = response.text
    assert "VERO 微商城" in html
    kinds = re.findall(r'data-block="([a-z_]+)"', html)
    assert kinds == ["banner", "product_grid", "article", "store_locator"]
    assert f"/m/vero/p/{mall.coat}" in html
    assert mall.draft not in html and mall.store_only not in html
    assert "<p>第一段</p>" in html and "<p>第二段</p>" in html
    assert "西单店" in html


async def test_prices_are_the_online_channels_with_the_wechat_price_beside(
    client: httpx.AsyncClient, mall: Mall
) -> None:
    html = (await client.get(f"/m/vero/c/{mall.category}", headers=HTML)).text
    assert "¥599.00" in html
    assert "微信价 ¥499.00" in html


async def test_product_page_carries_every_sku_with_price_and_stock(
    client: httpx.AsyncClient, mall: Mall
) -> None:
    response = await client.get(f"/m/vero/p/{mall.coat}", headers=HTML)
    assert response.status_code == 200
    found = re.search(
        r'<script type="application/json" id="picker-data">(.*?)</script>', response.text, re.S
    )
    assert found is not None
    data = json.loads(found[1])
    assert data["options"] == ["颜色", "尺码"]
    by_sku = {row["sku"]: row for row in data["skus"]}
    assert set(by_sku) == set(mall.skus.values())
    black_m = by_sku[mall.skus["黑/M"]]
    assert (black_m["price"], black_m["wechat_price"], black_m["online"]) == (59900, 49900, 5)
    camel_l = by_sku[mall.skus["驼/L"]]
    assert (camel_l["price"], camel_l["wechat_price"]) == (59900, None)
    assert (camel_l["online"], camel_l["in_stores"]) == (0, 2)
    # A visitor who has not logged in is sent to log in, coming back here.
    assert f'href="/m/vero/login?next=/m/vero/p/{mall.coat}"' in response.text


@pytest.mark.parametrize("which", ["draft", "store_only", "nope"])
async def test_products_not_on_sale_online_are_not_found(
    client: httpx.AsyncClient, mall: Mall, which: str
) -> None:
    public_id = getattr(mall, which, "prd_doesnotexist")
    response = await client.get(f"/m/vero/p/{public_id}", headers=HTML)
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]


async def test_categories_page_and_english(client: httpx.AsyncClient, mall: Mall) -> None:
    html = (await client.get("/m/vero/categories", headers=HTML)).text
    assert f'href="/m/vero/c/{mall.category}"' in html and "分类" in html
    english = (await client.get("/m/vero/categories?lang=en", headers=HTML)).text
    assert "Categories" in english


async def test_unknown_or_suspended_mall_is_not_found(
    client: httpx.AsyncClient, state: AppState, mall: Mall
) -> None:
    assert (await client.get("/m/nobody/", headers=HTML)).status_code == 404
    from sqlalchemy import update

    from loopmall.merchants.models import Merchant

    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(
            update(Merchant).where(Merchant.id == mall.tenant.id).values(status="suspended")
        )
        await uow.commit()
    assert (await client.get("/m/vero/", headers=HTML)).status_code == 404
