"""The O2O and social part of the demo world (issues #4 and #5), for the fashion chain: QR
codes for every store and guide, posters placed in a café and a magazine, a follow-and-join
offer, commission rules, a share chain, and a guide with a conversation. Loaded through the
domains' services, in the caller's transaction. (The flash sale opens anew on every run of
the demo: ``demo.flash_sale``.)"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Product, Sku
from loopmall.core.tenancy import Tenant
from loopmall.customers.service import customer_for, new_consumer
from loopmall.guides import chat
from loopmall.guides.rules import MessageKind, Sender
from loopmall.guides.views import card_of, first_image
from loopmall.merchants.models import Store
from loopmall.o2o import service as o2o
from loopmall.rebates import service as rebates
from loopmall.rebates.rules import DistributorPolicy, Rates
from loopmall.social.demo import demo_share_chain
from loopmall.staff.models import Staff

# S2: each placement of a poster has its own code, so the merchant sees which one sells.
PLACEMENTS = [
    ("静安寺星巴克 海报", "静安寺 星巴克臻选", "南京西路 1601 号", "春装上新 · 扫码进店"),
    ("《上海时尚》3 月刊 整版", "《上海时尚》杂志", "2026 年 3 月刊 第 12 页", "杂志读者专享"),
]

# S0 (VERO MODA): a customer asks a guide for a dress for a dinner.
CONVERSATION = [
    (Sender.CUSTOMER, "你好，周六有个晚宴，想找一条黑色连衣裙，M 码"),
    (Sender.GUIDE, "您好！这两款都很适合晚宴，门店有 M 码，可以先帮您留货试穿"),
]


async def _stores(session: AsyncSession, tenant: Tenant) -> list[Store]:
    rows = await session.scalars(
        select(Store).where(Store.merchant_id == tenant.id).order_by(Store.id)
    )
    return list(rows)


async def _guides(session: AsyncSession, tenant: Tenant) -> list[Staff]:
    rows = await session.scalars(
        select(Staff)
        .where(Staff.merchant_id == tenant.id, Staff.role == "guide")
        .order_by(Staff.id)
    )
    return list(rows)


async def first_skus(
    session: AsyncSession, tenant: Tenant, limit: int
) -> list[tuple[Sku, Product]]:
    rows = await session.execute(
        select(Sku, Product)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.merchant_id == tenant.id, Product.status == "active")
        .order_by(Product.id, Sku.id)
        .limit(limit)
    )
    return [(sku, product) for sku, product in rows.all()]


async def build(session: AsyncSession, tenant: Tenant) -> list[str]:
    """Seed the fashion chain's O2O world; returns one line per thing made (for the report)."""
    made: list[str] = []
    stores = await _stores(session, tenant)
    guides = await _guides(session, tenant)
    for store in stores:
        await o2o.ensure_store_code(session, tenant, store.id)
    for guide in guides:
        await o2o.ensure_guide_code(session, tenant, guide.id)
    made.append(f"QR codes for {len(stores)} stores and {len(guides)} guides")
    skus = await first_skus(session, tenant, 8)
    first_sku, first_product = skus[0]
    for name, place, address, title in PLACEMENTS:
        await o2o.create_channel(
            session,
            tenant,
            kind="placement",
            name=name,
            product_public_id=first_product.public_id,
            place_name=place,
            place_address=address,
            poster_title=title,
            poster_text="扫码即享微信价",
        )
    await o2o.create_channel(
        session,
        tenant,
        kind="product",
        name=f"{stores[0].name} · {first_product.title}",
        store_public_id=stores[0].public_id,
        sku_public_id=first_sku.public_id,
        poster_title=first_product.title,
    )
    await o2o.create_channel(
        session,
        tenant,
        kind="join",
        name="关注公众号 · 加入会员",
        poster_title="扫码关注，立享会员价",
        poster_text="新会员送 20 元券（满 200 可用）",
        coupon_title="新会员礼券",
        coupon_fen=2000,
        coupon_threshold_fen=20000,
    )
    made.append("posters in a café and a magazine, a product-in-store code, a join offer")

    await rebates.update_rules(
        session,
        tenant,
        Rates(
            store_bp=300,
            guide_bp=500,
            level1_bp=1000,
            level2_bp=500,
            distributor_cap_fen=5000,
            distributors=DistributorPolicy.EVERYONE,
        ),
        actor="demo",
    )
    made.append("commission: store 3 %, guide 5 %, sharer 10 %, upstream sharer 5 % (cap ¥50)")

    await demo_share_chain(session, tenant, product_public_id=first_product.public_id)
    made.append("a share chain 林小美 → 周可可 → 吴悠")

    if guides:
        guide = guides[0]
        consumer = await new_consumer(session, display_name="苏晴")
        customer = await customer_for(session, tenant, consumer, display_name="苏晴")
        conversation = await chat.open_conversation(
            session, tenant, customer_id=customer.id, guide_staff_id=guide.id
        )
        for sender, body in CONVERSATION:
            await chat.post(
                session,
                tenant,
                conversation,
                sender=sender,
                kind=MessageKind.TEXT,
                body=body,
                staff_id=guide.id if sender is Sender.GUIDE else None,
            )
        for sku, product in skus[:2]:
            image = await first_image(session, tenant, product.id)
            await chat.post(
                session,
                tenant,
                conversation,
                sender=Sender.GUIDE,
                kind=MessageKind.CARD,
                card=card_of(sku, product, image),
                staff_id=guide.id,
            )
        made.append(f"guide {guide.name} in conversation with 苏晴 (two product cards)")

    return made
