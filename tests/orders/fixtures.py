"""A small shop for order tests: a merchant, a product with SKUs, a pickup store with its
own price, stock online and in the store, and shoppers logged in through the identity
service (bearer headers for the consumer API)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import func, select

from loopmall.catalog.models import ChannelPrice
from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.models import OutboxEvent
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import cookie_name, sandbox_login, tenant_for_slug
from loopmall.inventory import locations
from loopmall.inventory.models import StockLevel
from loopmall.inventory.service import adjust_stock
from loopmall.merchants.models import Store
from loopmall.orders import service
from loopmall.orders.service import MarkPaid
from tests.factories import make_merchant
from tests.inventory.fixtures import MadeSku, make_skus, make_store

BASE_PRICE = 9900  # every SKU made by make_skus
STORE_PRICE = 8800  # the first SKU in the pickup store


@dataclass
class Shop:
    tenant: Tenant
    skus: list[MadeSku]
    store: Store
    warehouse_id: int
    store_location_id: int


@dataclass
class ShopperLogin:
    customer_id: int
    headers: dict[str, str]


async def make_shop(
    state: AppState,
    slug: str = "shop",
    *,
    online_units: int = 10,
    store_units: int = 5,
    sku_count: int = 2,
) -> Shop:
    tenant = await make_merchant(state, slug, slug.title())
    skus = await make_skus(state, tenant, sku_count)
    store = await make_store(state, tenant)
    async with UnitOfWork(state.write_factory) as uow:
        warehouse = await locations.default_warehouse(uow.session, tenant)
        at_store = await locations.location_for_store(uow.session, tenant, store.id)
        for sku in skus:
            for loc, units in ((warehouse, online_units), (at_store, store_units)):
                if units:
                    await adjust_stock(
                        uow.session,
                        tenant,
                        sku_id=sku.id,
                        location_id=loc.id,
                        delta=units,
                        reason="arrived",
                        actor="system",
                        kind="receive",
                    )
        uow.session.add(
            ChannelPrice(
                merchant_id=tenant.id,
                sku_id=skus[0].id,
                channel="store",
                store_id=store.id,
                channel_key=f"store:{store.id}",
                price=STORE_PRICE,
                member_price=None,
            )
        )
        await uow.commit()
        return Shop(tenant, skus, store, warehouse.id, at_store.id)


async def login_shopper(
    state: AppState, tenant: Tenant, name: str = "小明", phone: str | None = None
) -> ShopperLogin:
    async with UnitOfWork(state.write_factory) as uow:
        customer, token = await sandbox_login(uow.session, tenant, name=name, phone=phone)
        await uow.commit()
        return ShopperLogin(customer.id, {"Authorization": f"Bearer {token}"})


async def stock(state: AppState, sku_id: int, location_id: int) -> tuple[int, int]:
    """(on_hand, held) of a SKU at a location."""
    async with UnitOfWork(state.read_factory) as uow:
        row = (
            await uow.session.execute(
                select(StockLevel.on_hand, StockLevel.held).where(
                    StockLevel.sku_id == sku_id, StockLevel.location_id == location_id
                )
            )
        ).first()
        return (row[0], row[1]) if row else (0, 0)


async def events(state: AppState, topic: str | None = None) -> list[OutboxEvent]:
    async with UnitOfWork(state.read_factory) as uow:
        stmt = select(OutboxEvent).order_by(OutboxEvent.id)
        if topic:
            stmt = stmt.where(OutboxEvent.topic == topic)
        return list((await uow.session.scalars(stmt)).all())


async def count_events(state: AppState, topic: str) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        n = await uow.session.scalar(
            select(func.count(OutboxEvent.id)).where(OutboxEvent.topic == topic)
        )
        return int(n or 0)


async def add(
    client: httpx.AsyncClient, slug: str, headers: dict[str, str], sku: str, quantity: int = 1
) -> httpx.Response:
    response = await client.post(
        f"/api/v1/mall/{slug}/cart/items",
        json={"sku": sku, "quantity": quantity},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response


ADDRESS = {"name": "李雷", "phone": "13900000000", "address": "上海市静安区南京西路 1 号"}


async def place(
    client: httpx.AsyncClient,
    slug: str,
    headers: dict[str, str],
    *,
    pickup_store: str | None = None,
    payment_method: str = "online",
    key: str | None = None,
) -> httpx.Response:
    body: dict[str, object] = {"payment_method": payment_method}
    if pickup_store:
        body |= {"fulfilment": "pickup", "store": pickup_store}
    else:
        body |= {"fulfilment": "delivery", "address": ADDRESS}
    extra = {"Idempotency-Key": key} if key else {}
    return await client.post(f"/api/v1/mall/{slug}/checkout", json=body, headers=headers | extra)


async def pay_order(
    state: AppState, tenant: Tenant, public_id: str, *, payment_id: int = 1
) -> MarkPaid:
    """What payments does when a payment for the order's total succeeds."""
    async with UnitOfWork(state.write_factory) as uow:
        payable = await service.get_payable_by_public_id(uow.session, tenant, public_id)
        result = await service.mark_paid(
            uow.session,
            tenant,
            payable.id,
            amount_fen=payable.total_fen,
            payment_id=payment_id,
            paid_at=clock.now(),
        )
        await uow.commit()
        return result


async def pay_in_mall(state: AppState, slug: str, public_id: str) -> MarkPaid:
    async with UnitOfWork(state.read_factory) as uow:
        tenant = await tenant_for_slug(uow.session, slug)
    return await pay_order(state, tenant, public_id)


def mall_cookie(settings: Settings, base_url: str, slug: str, token: str) -> dict[str, str]:
    """The shopper's session cookie for a browser context (``context.add_cookies``)."""
    return {"name": cookie_name(settings, slug), "value": token, "url": base_url}
