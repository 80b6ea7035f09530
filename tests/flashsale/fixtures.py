"""A shop with a flash sale: the SKU's online stock, the sale (set up through the service),
reservation holders logged in through the identity service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale import service
from loopmall.flashsale.models import FlashBucket, FlashSale, FlashTicket
from loopmall.orders.models import Order
from tests.orders.fixtures import Shop, ShopperLogin, login_shopper, make_shop, stock

PRICE = 199900


@dataclass
class Sale:
    shop: Shop
    tenant: Tenant
    id: int
    public_id: str
    location_id: int
    sku_id: int


async def make_sale(
    state: AppState,
    *,
    units: int = 5,
    online_units: int = 20,
    starts_in: timedelta = timedelta(0),
    per_person_limit: int = 1,
    slug: str = "shop",
) -> Sale:
    """A sale of ``units`` out of ``online_units``, reservations open for an hour around now,
    live from ``now + starts_in`` for two hours."""
    shop = await make_shop(state, slug, online_units=online_units, store_units=0, sku_count=1)
    now = clock.now()
    async with UnitOfWork(state.write_factory) as uow:
        sale = await service.create_sale(
            uow.session,
            shop.tenant,
            service.SaleSetup(
                sku_public_id=shop.skus[0].public_id,
                title="小米手机 微信专享",
                price_fen=PRICE,
                stock=units,
                reserve_from=now - timedelta(hours=1),
                reserve_until=now + starts_in + timedelta(hours=1),
                starts_at=now + starts_in,
                ends_at=now + starts_in + timedelta(hours=2),
                per_person_limit=per_person_limit,
            ),
        )
        await uow.commit()
        return Sale(shop, shop.tenant, sale.id, sale.public_id, sale.location_id, sale.sku_id)


async def holders(
    state: AppState, sale: Sale, n: int, *, prefix: str = "买家"
) -> list[ShopperLogin]:
    """``n`` shoppers who reserved the sale."""
    logins = [await login_shopper(state, sale.tenant, f"{prefix}{i}") for i in range(n)]
    async with UnitOfWork(state.write_factory) as uow:
        await service.reserve_many(
            uow.session, sale.tenant, sale.id, [s.customer_id for s in logins]
        )
        await uow.commit()
    return logins


async def tickets(state: AppState, sale: Sale) -> list[FlashTicket]:
    async with UnitOfWork(state.read_factory) as uow:
        stmt = select(FlashTicket).where(FlashTicket.sale_id == sale.id).order_by(FlashTicket.id)
        return list((await uow.session.scalars(stmt)).all())


async def remaining(state: AppState, sale: Sale) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        total = await uow.session.scalar(
            select(func.sum(FlashBucket.remaining)).where(FlashBucket.sale_id == sale.id)
        )
        return int(total or 0)


async def orders_by_status(state: AppState) -> dict[str, int]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.execute(select(Order.status, func.count()).group_by(Order.status))
        return {status: int(n) for status, n in rows.all()}


async def order_public_ids(state: AppState) -> dict[int, str]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.execute(select(Order.id, Order.public_id))
        return {order_id: public_id for order_id, public_id in rows.all()}


async def sale_stock(state: AppState, sale: Sale) -> tuple[int, int]:
    """(on_hand, held) at the sale's own location."""
    return await stock(state, sale.sku_id, sale.location_id)


async def get_sale(state: AppState, sale: Sale) -> FlashSale:
    async with UnitOfWork(state.read_factory) as uow:
        found = await uow.session.get(FlashSale, sale.id)
        assert found is not None
        return found
