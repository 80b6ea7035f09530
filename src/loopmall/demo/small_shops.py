"""The demo world's three small shops (SPEC "Demo world"), each with its own look and home
page: a pancake stand at a school gate (face-to-face pay only), a Nanjing duck seller with
its community, and a fruit stall with no store. Loaded through the domains' services, in
the caller's transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.categories import create_category
from loopmall.catalog.schemas import CategoryIn, ProductIn, SkuIn
from loopmall.catalog.service import create_product
from loopmall.config import Settings
from loopmall.core.tenancy import Tenant
from loopmall.demo import duck_world
from loopmall.inventory.locations import default_warehouse
from loopmall.inventory.service import adjust_stock
from loopmall.merchants.mall import update_mall_settings
from loopmall.merchants.stores import create_store

if TYPE_CHECKING:
    from loopmall.demo.world import DemoReport


async def build_pancake(
    session: AsyncSession, tenant: Tenant, report: DemoReport, settings: Settings
) -> None:
    await create_store(
        session,
        tenant,
        code="GATE",
        name="实验小学门口煎饼摊",
        city="南京",
        district="鼓楼区",
        address="北京西路实验小学南门",
        latitude=32.0600,
        longitude=118.7700,
        opening_hours="周一至周五 06:30-08:30; 周一至周五 16:00-18:30",
        pickup_enabled=False,
    )
    await update_mall_settings(
        session,
        tenant,
        primary_color="#e8a317",  # the colour of a pancake on the griddle
        accent_color="#5b3a1a",
        blocks=[
            {"type": "banner", "title": "现摊现做 · 一套煎饼果子 6 元起"},
            {
                "type": "article",
                "title": "只收面对面付款",
                "body": "扫摊位上的收款码，输入金额付款。",
            },
            {
                "type": "article",
                "title": "出摊时间",
                "body": "上学日早上 6:30-8:30，放学 16:00-18:30。下雨天不出摊。",
            },
            {"type": "store_locator", "title": "摊位在这里"},
        ],
    )


async def _stocked(
    session: AsyncSession, tenant: Tenant, made: ProductIn, location_id: int, units: int, why: str
) -> str:
    """Create the product with ``units`` of each SKU at the location; its public id."""
    detail = await create_product(session, tenant, made)
    for sku_detail in detail.skus:
        await adjust_stock(
            session,
            tenant,
            sku_id=sku_detail.sku.id,
            location_id=location_id,
            delta=units,
            reason=why,
            actor="demo",
        )
    return detail.product.public_id


async def build_duck(
    session: AsyncSession, tenant: Tenant, report: DemoReport, settings: Settings
) -> None:
    await create_store(
        session,
        tenant,
        code="FZM",
        name="夫子庙老店",
        city="南京",
        district="秦淮区",
        address="贡院街88号",
        latitude=32.0220,
        longitude=118.7880,
        opening_hours="09:00-21:00",
        pickup_enabled=True,
    )
    category = await create_category(session, tenant, CategoryIn(name="盐水鸭"))
    warehouse = await default_warehouse(session, tenant)
    whole_duck = ""
    for title, price in [
        ("招牌盐水鸭（整只）", 6800),
        ("盐水鸭（半只）", 3600),
        ("鸭肫礼盒", 8800),
    ]:
        made = ProductIn(
            title=title,
            status="active",
            category=category.public_id,
            skus=[SkuIn(options={}, price=price)],
        )
        product = await _stocked(session, tenant, made, warehouse.id, 50, "当日出炉")
        whole_duck = whole_duck or product
    await update_mall_settings(
        session,
        tenant,
        mall_name="金陵盐水鸭 · 夫子庙老店",
        primary_color="#8b1a1a",  # lacquer red of an old Nanjing shop sign
        accent_color="#c9a227",
        blocks=[
            {"type": "banner", "title": "三代人的老卤 · 每天上午十点出炉"},
            {"type": "product_grid", "title": "今日出炉", "category_id": category.public_id},
            {
                "type": "article",
                "title": "鸭友会",
                "body": "扫柜台上的二维码加入鸭友会：会员价买鸭，每周三到店优先取新出炉的鸭。",
            },
            {"type": "store_locator", "title": "到夫子庙老店自提"},
        ],
    )
    await duck_world.build(session, tenant, product_public_id=whole_duck)


async def build_fruit(
    session: AsyncSession, tenant: Tenant, report: DemoReport, settings: Settings
) -> None:
    # No store at all: S0's fruit seller sells from the mall and delivers.
    warehouse = await default_warehouse(session, tenant)
    for title, unit_price in [
        ("赣南脐橙 5斤装", 3990),
        ("阳光玫瑰葡萄 2斤", 5980),
        ("海南金煌芒 3斤", 2990),
    ]:
        made = ProductIn(
            title=title,
            status="active",
            option_names=["规格"],
            skus=[
                SkuIn(options={"规格": "标准"}, price=unit_price),
                SkuIn(options={"规格": "礼盒"}, price=unit_price + 2000),
            ],
        )
        await _stocked(session, tenant, made, warehouse.id, 30, "今日到货")
    await update_mall_settings(
        session,
        tenant,
        mall_name="阿强水果 · 产地直发",
        primary_color="#2e8b3a",  # leaf green
        accent_color="#f28c28",
        blocks=[
            {"type": "banner", "title": "今日到货 · 下午四点前下单当天送"},
            {"type": "coupon_strip", "title": "领券再减"},
            {"type": "product_grid", "title": "当季鲜果", "limit": 12},
            {
                "type": "article",
                "title": "坏果包赔",
                "body": "收到有坏果，拍照发给阿强，按个数退钱，不用寄回。",
            },
        ],
    )
