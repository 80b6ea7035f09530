"""The demo world (SPEC "Demo world"), loaded through the domains' own services.

What exists so far: a fashion chain (3 stores, 6 guides, 40 products in sizes and colours,
stock in its warehouse and stores, 微信价 on some SKUs), a pancake stand at a school gate,
a Nanjing duck seller, and a fruit stall with no store; one platform operator.

Loading is idempotent: a merchant whose code already exists is left as it is, so running
``make demo`` twice never duplicates anything.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.categories import create_category
from loopmall.catalog.images import add_image
from loopmall.catalog.prices import set_channel_price
from loopmall.catalog.schemas import CategoryIn, ChannelPriceIn, ProductIn, SkuIn
from loopmall.catalog.service import create_product
from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.demo import o2o_world, small_shops
from loopmall.demo.flash_sale import DemoSale
from loopmall.demo.pictures import product_picture
from loopmall.identity.models import Operator
from loopmall.identity.operators import create_operator
from loopmall.inventory.locations import default_warehouse, location_for_store
from loopmall.inventory.service import adjust_stock
from loopmall.merchants.mall import update_mall_settings
from loopmall.merchants.models import Merchant
from loopmall.merchants.service import onboard_merchant
from loopmall.merchants.stores import create_store
from loopmall.staff.service import create_staff

DEMO_PASSWORD = "demo1234"  # noqa: S105 - the demo world's published password
OPERATOR_EMAIL = "ops@loopmall.demo"


@dataclass(frozen=True)
class Login:
    who: str
    merchant: str
    account: str
    tries: str  # what this role can try first, printed under the login
    page: str  # where the login goes (console, platform console or the guide's page)
    password: str = DEMO_PASSWORD


@dataclass
class DemoReport:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    flash_sale: DemoSale | None = None  # the sale this run opened (``demo.flash_sale``)


@dataclass(frozen=True)
class MerchantPlan:
    slug: str
    name: str
    owner_name: str
    owner_phone: str
    colors: tuple[str, str]
    build: Callable[[AsyncSession, Tenant], object] | None = None


FASHION_STORES = [
    ("SH001", "上海南京西路店", "上海", "静安区", "南京西路1266号恒隆广场B1", 31.2290, 121.4495),
    ("SH002", "上海五角场店", "上海", "杨浦区", "淞沪路8号百联又一城2楼", 31.2990, 121.5140),
    ("NJ001", "南京新街口店", "南京", "秦淮区", "中山南路1号德基广场3楼", 32.0410, 118.7840),
]
FASHION_GUIDES = [
    ("13900000011", "王丽", "guide", "SH001"),
    ("13900000012", "陈静", "guide", "SH001"),
    ("13900000013", "李娜", "guide", "SH002"),
    ("13900000014", "赵敏", "guide", "SH002"),
    ("13900000015", "刘洋", "guide", "NJ001"),
    ("13900000016", "孙悦", "guide", "NJ001"),
]
FASHION_MANAGERS = [("13900000010", "周店长", "store_manager", "SH001")]
FASHION_CASHIERS = [("13900000020", "吴收银", "cashier", "SH001")]
# (category, item, base price in yuan)
FASHION_LINES = [
    ("连衣裙", ["真丝印花连衣裙", "收腰衬衫裙", "针织长裙", "碎花雪纺裙", "小黑裙"], 499),
    ("T恤", ["纯棉圆领T恤", "字母印花T恤", "宽松落肩T恤", "条纹短袖T恤", "刺绣Polo衫"], 129),
    ("衬衫", ["法式泡泡袖衬衫", "牛津纺衬衫", "真丝衬衫", "格纹衬衫", "亚麻衬衫"], 299),
    ("牛仔裤", ["高腰直筒牛仔裤", "阔腿牛仔裤", "修身小脚牛仔裤", "破洞男友裤", "喇叭牛仔裤"], 399),
    ("外套", ["双面羊绒大衣", "短款羽绒服", "机车皮夹克", "风衣", "牛仔夹克"], 899),
    ("针织衫", ["羊毛开衫", "高领打底衫", "麻花针织背心", "V领套头毛衣", "短款针织衫"], 359),
    ("半身裙", ["A字半身裙", "百褶中长裙", "包臀裙", "牛仔半身裙", "缎面半身裙"], 269),
    ("西装", ["宽松西装外套", "西装马甲", "九分西裤", "双排扣西装", "亚麻西装"], 699),
]
COLOUR_RGB = {
    "黑色": (34, 34, 34),
    "白色": (236, 236, 232),
    "藏青": (31, 45, 84),
    "驼色": (193, 154, 107),
    "酒红": (122, 28, 44),
    "燕麦色": (214, 200, 175),
}
COLOURS = list(COLOUR_RGB)
SIZES = ["S", "M", "L", "XL"]


async def _build_fashion(
    session: AsyncSession, tenant: Tenant, report: DemoReport, settings: Settings
) -> None:
    rng = random.Random(2014)  # the same world every time
    await update_mall_settings(
        session,
        tenant,
        mall_name="VERO 时装微商城",
        primary_color="#1f1f1f",
        accent_color="#c8a165",
    )
    store_ids: dict[str, tuple[int, str]] = {}
    for code, name, city, district, address, lat, lng in FASHION_STORES:
        store = await create_store(
            session,
            tenant,
            code=code,
            name=name,
            city=city,
            district=district,
            address=address,
            phone="021-62880000",
            latitude=lat,
            longitude=lng,
            opening_hours="周一至周五 10:00-22:00；周六,周日 09:30-22:30",
            pickup_enabled=True,
        )
        store_ids[code] = (store.id, store.public_id)
    for phone, name, role, code in FASHION_MANAGERS + FASHION_GUIDES + FASHION_CASHIERS:
        await create_staff(
            session,
            tenant,
            phone=phone,
            name=name,
            role=role,
            password=DEMO_PASSWORD,
            stores=[store_ids[code][1]],
        )

    warehouse = await default_warehouse(session, tenant)
    store_locations = [
        (await location_for_store(session, tenant, store_id)).id
        for store_id, _ in store_ids.values()
    ]
    for category_name, items, base_yuan in FASHION_LINES:
        category = await create_category(session, tenant, CategoryIn(name=category_name))
        for i, title in enumerate(items):
            colours = rng.sample(COLOURS, 2 + i % 2)
            sizes = SIZES if category_name not in ("外套", "西装") else SIZES[:3]
            price = (base_yuan + 20 * i) * 100
            detail = await create_product(
                session,
                tenant,
                ProductIn(
                    title=title,
                    subtitle=f"{category_name} · 新品",
                    status="active",
                    category=category.public_id,
                    tags=[category_name, "新品"] if i < 2 else [],
                    option_names=["颜色", "尺码"],
                    skus=[
                        SkuIn(
                            options={"颜色": c, "尺码": s},
                            price=price,
                            member_price=price * 95 // 100,
                        )
                        for c in colours
                        for s in sizes
                    ],
                ),
            )
            await add_image(
                session,
                tenant,
                detail.product.public_id,
                product_picture(COLOUR_RGB[colours[0]], category_name),
                upload_dir=settings.upload_dir,
                max_bytes=settings.upload_max_bytes,
            )
            for sku_detail in detail.skus:
                sku = sku_detail.sku
                if i % 2 == 0:  # the exclusive WeChat price (S0: "微信价")
                    await set_channel_price(
                        session,
                        tenant,
                        sku.public_id,
                        ChannelPriceIn(channel="wechat", price=price - 3000),
                    )
                await adjust_stock(
                    session,
                    tenant,
                    sku_id=sku.id,
                    location_id=warehouse.id,
                    delta=rng.randint(20, 60),
                    reason="开业入库",
                    actor="demo",
                )
                for location_id in store_locations:
                    units = rng.randint(0, 6)
                    if units:
                        await adjust_stock(
                            session,
                            tenant,
                            sku_id=sku.id,
                            location_id=location_id,
                            delta=units,
                            reason="门店铺货",
                            actor="demo",
                        )
    await o2o_world.build(session, tenant)


PLANS: list[tuple[str, str, str, str, Callable[..., object]]] = [
    ("vero", "VERO 时装", "林总", "13800000001", _build_fashion),
    ("pancake", "校门口煎饼", "张阿姨", "13800000002", small_shops.build_pancake),
    ("duck", "金陵盐水鸭", "韩师傅", "13800000003", small_shops.build_duck),
    ("fruit", "阿强水果", "阿强", "13800000004", small_shops.build_fruit),
]


def demo_logins() -> list[Login]:
    """One login for every role the demo world has, with what that role can try first."""
    return [
        Login(
            "owner of VERO 时装",
            "vero",
            "13800000001",
            "everything: products, stock, stores, staff, flash sales, the mall's look",
            "/console/login",
        ),
        Login(
            "store manager of 上海南京西路店 (SH001)",
            "vero",
            FASHION_MANAGERS[0][0],
            "the store's stock and staff, pickups and the store's orders",
            "/console/login",
        ),
        Login(
            "guide at SH001",
            "vero",
            FASHION_GUIDES[0][0],
            "the guide's page: chat with 苏晴, hold a size for her, share a product",
            "/guide",
        ),
        Login(
            "cashier at SH001",
            "vero",
            FASHION_CASHIERS[0][0],
            "hand over pickups by their code (核销) and take payments at the till",
            "/console/login",
        ),
        Login(
            "platform operator",
            "",
            OPERATOR_EMAIL,
            "every merchant, failed event deliveries and their retries",
            "/platform/login",
        ),
    ] + [
        Login(f"owner of {name}", slug, phone, "the console of a small shop", "/console/login")
        for slug, name, _owner, phone, _build in PLANS[1:]
    ]


async def load(state: AppState) -> DemoReport:
    """Create what is missing of the demo world; each merchant in its own transaction."""
    report = DemoReport()
    for slug, name, owner_name, owner_phone, build in PLANS:
        async with UnitOfWork(state.write_factory) as uow:
            exists = await uow.session.scalar(select(Merchant.id).where(Merchant.slug == slug))
            if exists is not None:
                report.kept.append(slug)
                continue
            merchant, _owner = await onboard_merchant(
                uow.session,
                name=name,
                slug=slug,
                owner_name=owner_name,
                owner_phone=owner_phone,
                owner_password=DEMO_PASSWORD,
            )
            await build(uow.session, Tenant(merchant.id, merchant.slug), report, state.settings)  # type: ignore[misc]
            await uow.commit()
            report.created.append(slug)
    async with UnitOfWork(state.write_factory) as uow:
        if (
            await uow.session.scalar(select(Operator.id).where(Operator.email == OPERATOR_EMAIL))
            is None
        ):
            await create_operator(
                uow.session, email=OPERATOR_EMAIL, name="平台运营", password=DEMO_PASSWORD
            )
            await uow.commit()
    return report
