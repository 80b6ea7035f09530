"""The demo's flash sale: on every run of ``loopmall demo`` a sale opens for buying a few
minutes later (reservations open at once), and the fashion mall's home page leads to it
with a banner (issue #14 item 4). A sale two days away, as the first demo had, is one
nobody trying the demo ever sees open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.demo.o2o_world import first_skus
from loopmall.flashsale import service as flashsale
from loopmall.inventory.locations import default_warehouse
from loopmall.inventory.repository import availability
from loopmall.inventory.service import adjust_stock
from loopmall.merchants.blocks import MAX_BLOCKS
from loopmall.merchants.mall import get_mall_settings, update_mall_settings
from loopmall.merchants.models import Merchant

SALE_MERCHANT = "vero"
OPENS_AFTER = timedelta(minutes=3)
LASTS = timedelta(hours=3)
UNITS = 10
BANNER_TAG = "限时秒杀"  # the banner this module owns on the home page starts with it
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class DemoSale:
    public_id: str
    title: str
    path: str  # the sale's page in the mall
    opens_local: str  # when buying opens, Shanghai time, as the mall shows it


async def open_demo_sale(state: AppState) -> DemoSale | None:
    """Open a new flash sale of the fashion chain's sale SKU (buying in three minutes, for
    three hours, 10 units; the online stock is topped up for it when short) and point the
    home page's flash-sale banner at it. None when the fashion chain is not there."""
    async with UnitOfWork(state.write_factory) as uow:
        session = uow.session
        row = (
            await session.execute(
                select(Merchant.id, Merchant.slug).where(Merchant.slug == SALE_MERCHANT)
            )
        ).first()
        if row is None:
            return None
        tenant = Tenant(row[0], row[1])
        sku, product = (await first_skus(session, tenant, 8))[-1]
        warehouse = await default_warehouse(session, tenant)
        online = await availability(session, tenant, sku_id=sku.id, location_id=warehouse.id)
        short = UNITS - online.available
        if short > 0:
            await adjust_stock(
                session,
                tenant,
                sku_id=sku.id,
                location_id=warehouse.id,
                delta=short,
                reason="秒杀补货",
                actor="demo",
            )
        now = clock.now()
        title = f"微信专享秒杀 · {product.title}"
        sale = await flashsale.create_sale(
            session,
            tenant,
            flashsale.SaleSetup(
                sku_public_id=sku.public_id,
                title=title,
                price_fen=max(100, sku.price // 2),
                stock=UNITS,
                reserve_from=now,
                reserve_until=now + OPENS_AFTER + LASTS,
                starts_at=now + OPENS_AFTER,
                ends_at=now + OPENS_AFTER + LASTS,
            ),
        )
        path = f"/m/{tenant.slug}/flash/{sale.public_id}"
        opens = (now + OPENS_AFTER).astimezone(SHANGHAI).strftime("%H:%M")
        await _point_banner(session, tenant, path, f"{BANNER_TAG} · {opens} 开抢")
        await uow.commit()
    return DemoSale(sale.public_id, title, path, f"{opens} Asia/Shanghai")


async def _point_banner(session: AsyncSession, tenant: Tenant, link: str, title: str) -> None:
    """The home page's first block becomes the banner to this sale (replacing the banner a
    previous run left there); the merchant's other blocks stay as they are."""
    mall = await get_mall_settings(session, tenant)
    others = [b for b in mall.blocks if not str(b.get("title", "")).startswith(BANNER_TAG)]
    banner = {"type": "banner", "title": title, "link": link}
    await update_mall_settings(session, tenant, blocks=[banner, *others][:MAX_BLOCKS])
