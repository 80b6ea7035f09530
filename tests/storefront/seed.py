"""Seed data for the mall page tests (API and browser)."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class Mall:
    tenant: Tenant
    category: str
    coat: str  # two colours × two sizes, one with a WeChat price
    draft: str  # not active: never shown
    store_only: str  # sold in stores only: not in the online mall
    skus: dict[str, str]  # "黑/M" → SKU public id


async def seed_mall(state: AppState) -> Mall:
    """VERO's mall: blocks, a store, a coat in 2×2 SKUs (black M has a WeChat price and 5 units
    online; camel L has 2 units in the store only), a draft and a store-only product."""
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
