"""The soak's world, in a fresh migrated database: the demo world loaded through its own
loader, the demo merchants' outside accounts (WeChat Pay, Alipay, service account) with keys
kept in the run's data dir, and the plan the load generator reads (what to browse, which SKUs
to buy, which QR codes to scan, the guides and their session cookies).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from loopmall.catalog.models import Category, Product, Sku
from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import cookie_name
from loopmall.demo.outside import MerchantKeys, connect_accounts, load_keys
from loopmall.demo.world import PLANS, load
from loopmall.identity.service import open_session
from loopmall.merchants.models import Merchant
from loopmall.o2o.models import QrChannel
from loopmall.staff.models import Staff

SHOP = "vero"  # the fashion chain: stores, guides, QR codes, a WeChat Pay account
BROWSE = ("vero", "duck", "fruit")


async def load_world(state: AppState) -> dict[str, MerchantKeys]:
    """The demo world and its merchants' outside accounts; the keys by slug."""
    await load(state)
    keys = load_keys(state.settings, [(slug, name) for slug, name, *_rest in PLANS])
    await connect_accounts(state, keys)
    async with UnitOfWork(state.write_factory) as uow:
        # Fresh statistics for the planner (this machine's PostgreSQL runs without autovacuum).
        await uow.session.execute(text("ANALYZE"))
        await uow.commit()
    return keys


async def _merchant(state: AppState, slug: str) -> Merchant:
    async with UnitOfWork(state.read_factory) as uow:
        found = await uow.session.scalar(select(Merchant).where(Merchant.slug == slug))
    assert found is not None, f"the demo world has no merchant {slug!r}"
    return found


async def plan_of(state: AppState, settings: Settings) -> dict[str, Any]:
    """What the load generator needs, read from the loaded world."""
    browse: dict[str, dict[str, list[str]]] = {}
    for slug in BROWSE:
        merchant = await _merchant(state, slug)
        async with UnitOfWork(state.read_factory) as uow:
            s = uow.session
            products = await s.scalars(
                select(Product.public_id)
                .where(Product.merchant_id == merchant.id, Product.status == "active")
                .order_by(Product.id)
            )
            categories = await s.scalars(
                select(Category.public_id)
                .where(Category.merchant_id == merchant.id)
                .order_by(Category.id)
            )
            browse[slug] = {"products": list(products), "categories": list(categories)}
    shop = await _merchant(state, SHOP)
    async with UnitOfWork(state.write_factory) as uow:
        s = uow.session
        skus = await s.scalars(
            select(Sku.public_id)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.merchant_id == shop.id, Product.status == "active")
            .order_by(Sku.id)
        )
        codes = await s.scalars(
            select(QrChannel.code)
            .where(QrChannel.merchant_id == shop.id, QrChannel.active.is_(True))
            .order_by(QrChannel.id)
        )
        staff = await s.scalars(
            select(Staff)
            .where(Staff.merchant_id == shop.id, Staff.role == "guide")
            .order_by(Staff.id)
        )
        guides = []
        for guide in staff:
            token, _row = await open_session(s, kind="cookie", ttl_seconds=24 * 3600, staff=guide)
            guides.append(
                {
                    "id": guide.public_id,
                    "name": guide.name,
                    "cookie": f"{settings.session_cookie}={token}",
                }
            )
        await uow.commit()
    return {
        "shop": SHOP,
        "browse": browse,
        "skus": list(skus),
        "qr_codes": list(codes),
        "guides": guides,
        "shopper_cookie": cookie_name(settings, SHOP),
    }
