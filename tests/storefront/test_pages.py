"""The consumer's mall pages, read as a visitor: the home page is the merchant's blocks,
products appear only when on sale online, prices are the online channel's with the WeChat
price beside them, and the picker carries every SKU with its stock."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import httpx
import pytest

from loopmall.catalog.categories import create_category
from loopmall.catalog.prices import set_channel_price
from loopmall.catalog.schemas import CategoryIn, ChannelPriceIn, ProductIn, SkuIn
from loopmall.catalog.service import create_product
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.inventory.locations import default_warehouse, location_for_store
from loopmall.inventory.service import adjust_stock
from loopmall.merchants.mall import update_mall_settings
from loopmall.merchants.stores import create_store
from tests.factories import make_merchant

HTML = {"Accept": "text/html"}


@dataclass
class Mall:
    tenant: Tenant
    category: str
    coat: str  # two colours × two sizes, one with a WeChat price
    draft: str  # not active: never shown
    store_only: str  # sold in stores only: not in the online mall
    skus: dict[str, str]  # "黑/M" → SKU public id


@pytest.fixture
async def mall(state: AppState) -> Mall:
    tenant = await make_merchant(state, "vero", "VERO")
    async with UnitOfWork(state.write_factory) as uow:
        s = uow.session
        await update_mall_settings(
            s,
            tenant,
            mall_name="VERO 微商城",
            blocks=[
                {"type": "banner", "title": "秋冬新品"},
                {"type": "product_grid", "title": "全部商品", "limit": 8},
                {"type": "article", "title": "品牌故事", "body": "第一段\n\n第二段"},
                {"type": "store_locator", "title": "附近门店"},
            ],
        )
        store = await create_store(s, tenant, code="S1", name="西单店", city="北京")
        category = await create_category(s, tenant, CategoryIn(name="外套"))
        coat = await create_product(
            s,
            tenant,
            ProductIn(
                title="羊毛大衣",
                status="active",
                category=category.public_id,
                option_names=["颜色", "尺码"],
                skus=[
                    SkuIn(options={"颜色": c, "尺码": z}, price=59900)
                    for c in ("黑", "驼")
                    for z in ("M", "L")
                ],
            ),
        )
        draft = await create_product(
            s, tenant, ProductIn(title="未上架", status="draft", skus=[SkuIn(price=100)])
        )
        store_only = await create_product(
            s,
            tenant,
            ProductIn(
                title="门店专供",
                status="active",
                sales_scope="store_only",
                skus=[SkuIn(price=100)],
            ),
        )
        skus = {
            f"{d.sku.options['颜色']}/{d.sku.options['尺码']}": d.sku.public_id for d in coat.skus
        }
        await set_channel_price(
            s, tenant, skus["黑/M"], ChannelPriceIn(channel="wechat", price=49900)
        )
        warehouse = await default_warehouse(s, tenant)
        shop = await location_for_store(s, tenant, store.id)
        by_id = {d.sku.public_id: d.sku.id for d in coat.skus}
        await adjust_stock(
            s,
            tenant,
            sku_id=by_id[skus["黑/M"]],
            location_id=warehouse.id,
            delta=5,
            reason="入库",
            actor="test",
        )
        await adjust_stock(
            s,
            tenant,
            sku_id=by_id[skus["驼/L"]],
            location_id=shop.id,
            delta=2,
            reason="入库",
            actor="test",
        )
        await uow.commit()
    return Mall(
        tenant,
        category.public_id,
        coat.product.public_id,
        draft.product.public_id,
        store_only.product.public_id,
        skus,
    )


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
