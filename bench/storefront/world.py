"""The crowd's world, built by the code under test in its own process:

    python -m bench.storefront.world --database-url URL --data-dir DIR --out plan.json
        [--sales N] [--holders H] [--units U] [--grow K]

Run with ``PYTHONPATH=<checkout>/src`` ahead of the editable install, it migrates the database
with that checkout's migrations and loads that checkout's demo world, so a baseline commit is
measured on the world it knew. What it builds: the demo world (``loopmall.demo.world.load``)
and its merchants' outside accounts (WeChat Pay for checkout), every ``vero`` SKU topped up in
the warehouse (the checkout run buys thousands of units), with ``--grow`` K more products per
category, and ``--sales`` flash sales (merchants ``flash1``…, each with H reservation holders
and U units: one per server started on this database). The plan it writes says what the load
generators open: products, categories, SKUs, QR codes, the sales.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from bench.flashsale.world import build_world
from loopmall.catalog.models import Category, Product, Sku
from loopmall.catalog.schemas import ProductIn, SkuIn
from loopmall.catalog.service import create_product
from loopmall.config import Settings
from loopmall.core import migrate
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import cookie_name
from loopmall.demo.outside import connect_accounts, load_keys
from loopmall.demo.world import PLANS, load
from loopmall.inventory.locations import default_warehouse
from loopmall.inventory.service import adjust_stock
from loopmall.merchants.models import Merchant
from loopmall.o2o.models import QrChannel

SHOP = "vero"
TOP_UP = 100_000  # units per SKU: the checkout run never runs a SKU dry


async def _tenant(state: AppState, slug: str) -> Tenant:
    async with UnitOfWork(state.read_factory) as uow:
        found = await uow.session.scalar(select(Merchant.id).where(Merchant.slug == slug))
    assert found is not None, f"the demo world has no merchant {slug!r}"
    return Tenant(found, slug)


async def _top_up(state: AppState, tenant: Tenant) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        s = uow.session
        warehouse = await default_warehouse(s, tenant)
        sku_ids = list(await s.scalars(select(Sku.id).where(Sku.merchant_id == tenant.id)))
        for sku_id in sku_ids:
            await adjust_stock(
                s,
                tenant,
                sku_id=sku_id,
                location_id=warehouse.id,
                delta=TOP_UP,
                reason="bench",
                actor="bench",
            )
        await uow.commit()


async def _grow(state: AppState, tenant: Tenant, per_category: int) -> None:
    """``per_category`` more products (4 SKUs each) in each of the mall's categories."""
    async with UnitOfWork(state.write_factory) as uow:
        s = uow.session
        categories = list(
            await s.execute(
                select(Category.public_id, Category.name).where(Category.merchant_id == tenant.id)
            )
        )
        for public_id, name in categories:
            for i in range(per_category):
                price = (199 + 10 * i) * 100
                await create_product(
                    s,
                    tenant,
                    ProductIn(
                        title=f"{name} 加量款 {i + 1}",
                        subtitle=f"{name} · 常青",
                        status="active",
                        category=public_id,
                        option_names=["尺码"],
                        skus=[SkuIn(options={"尺码": z}, price=price) for z in "SMLX"],
                    ),
                )
        await uow.commit()


async def _plan(state: AppState, settings: Settings, sales: list[dict[str, Any]]) -> dict[str, Any]:
    tenant = await _tenant(state, SHOP)
    async with UnitOfWork(state.read_factory) as uow:
        s = uow.session
        products = await s.scalars(
            select(Product.public_id)
            .where(Product.merchant_id == tenant.id, Product.status == "active")
            .order_by(Product.id)
        )
        categories = await s.scalars(
            select(Category.public_id)
            .where(Category.merchant_id == tenant.id)
            .order_by(Category.id)
        )
        skus = await s.scalars(
            select(Sku.public_id)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.merchant_id == tenant.id, Product.status == "active")
            .order_by(Sku.id)
        )
        codes = await s.scalars(
            select(QrChannel.code)
            .where(QrChannel.merchant_id == tenant.id, QrChannel.active.is_(True))
            .order_by(QrChannel.id)
        )
        return {
            "shop": SHOP,
            "products": list(products),
            "categories": list(categories),
            "skus": list(skus),
            "qr_codes": list(codes),
            "shopper_cookie": cookie_name(settings, SHOP),
            "sales": sales,
        }


async def build(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(
        database_url=args.database_url,
        data_dir=Path(args.data_dir),
        redis_url=args.redis_url or None,
        redis_prefix=args.redis_prefix,
        secret_key=args.secret,
        auto_migrate=False,
        run_background=False,
    )
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    state = AppState.build(settings)
    try:
        await load(state)
        await connect_accounts(
            state, load_keys(settings, [(slug, name) for slug, name, *_rest in PLANS])
        )
        tenant = await _tenant(state, SHOP)
        if args.grow:
            await _grow(state, tenant, args.grow)
        await _top_up(state, tenant)
        sales = []
        for i in range(args.sales):
            world = await build_world(
                state, holders=args.holders, stock=args.units, slug=f"flash{i + 1}"
            )
            sales.append(
                {
                    "slug": world.tenant.slug,
                    "sale_id": world.sale_id,
                    "path": world.buy_path,
                    "customers": world.customer_ids,
                    "units": world.stock,
                }
            )
        if not state.is_sqlite:
            # This machine's PostgreSQL runs without autovacuum: statistics for the new rows.
            async with UnitOfWork(state.write_factory) as uow:
                await uow.session.execute(text("ANALYZE"))
                await uow.commit()
        return await _plan(state, settings, sales)
    finally:
        await state.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.storefront.world")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--redis-prefix", default="lmstore:")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--sales", type=int, default=1)
    parser.add_argument("--holders", type=int, default=30_000)
    parser.add_argument("--units", type=int, default=3_000)
    parser.add_argument("--grow", type=int, default=0, help="more products per category")
    args = parser.parse_args()
    plan = asyncio.run(build(args))
    args.out.write_text(json.dumps(plan, ensure_ascii=False))


if __name__ == "__main__":
    main()
