"""A small world for attribution tests: a shop (tests.orders.fixtures) with two stores, two
guides, customers logged in through the identity service, and orders placed through the
consumer API and paid through the orders contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

import loopmall.attribution.handlers  # noqa: F401  (registers the subscribers run below)
from loopmall.attribution import service
from loopmall.attribution.models import Credit
from loopmall.core.events import subscriber
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import Outcome, apply, envelope_of
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.models import Store
from tests.factories import make_staff, token_for
from tests.inventory.fixtures import make_store
from tests.orders.fixtures import Shop, add, login_shopper, make_shop, pay_order, place


@dataclass
class World:
    shop: Shop
    tenant: Tenant
    store: Store
    other_store: Store
    guide: int
    guide_public: str
    other_guide: int
    cashier: int
    owner: dict[str, str]


async def make_world(state: AppState, client: httpx.AsyncClient, slug: str = "shop") -> World:
    shop = await make_shop(state, slug)
    other = await make_store(state, shop.tenant, "S002")
    owner = await make_staff(state, shop.tenant)
    guide = await make_staff(
        state,
        shop.tenant,
        phone="13800000002",
        role="guide",
        name="小王",
        store_ids=(shop.store.id,),
    )
    other_guide = await make_staff(
        state,
        shop.tenant,
        phone="13800000003",
        role="guide",
        name="小李",
        store_ids=(other.id,),
    )
    cashier = await make_staff(
        state, shop.tenant, phone="13800000004", role="cashier", store_ids=(shop.store.id,)
    )
    headers = await token_for(client, slug, owner.phone)
    return World(
        shop,
        shop.tenant,
        shop.store,
        other,
        guide.staff_id,
        guide.public_id,
        other_guide.staff_id,
        cashier.staff_id,
        headers,
    )


async def customer(
    state: AppState, tenant: Tenant, name: str = "小明"
) -> tuple[int, dict[str, str]]:
    login = await login_shopper(state, tenant, name)
    return login.customer_id, login.headers


async def touch(state: AppState, tenant: Tenant, **kw: Any) -> int:
    async with UnitOfWork(state.write_factory) as uow:
        t = await service.record_touch(uow.session, tenant, **kw)
        await uow.commit()
        return t.id


async def bind(state: AppState, tenant: Tenant, customer_id: int, **kw: Any) -> Any:
    async with UnitOfWork(state.write_factory) as uow:
        b = await service.bind_customer(uow.session, tenant, customer_id, **kw)
        await uow.commit()
        return None if b is None else (b.store_id, b.guide_staff_id)


async def buy(
    state: AppState,
    client: httpx.AsyncClient,
    w: World,
    headers: dict[str, str],
    *,
    pay: bool = True,
) -> tuple[int, str]:
    """Place (and pay) an order of two units of the first SKU; returns (order id, public id)."""
    await add(client, w.tenant.slug, headers, w.shop.skus[0].public_id, 2)
    r = await place(client, w.tenant.slug, headers)
    assert r.status_code == 201, r.text
    public_id = r.json()["id"]
    if pay:
        await pay_order(state, w.tenant, public_id)
    async with UnitOfWork(state.read_factory) as uow:
        from loopmall.orders.service import get_payable_by_public_id

        order = await get_payable_by_public_id(uow.session, w.tenant, public_id)
        return order.id, public_id


async def deliver(state: AppState, topic: str) -> int:
    """Run attribution's handler for every ``topic`` event in the outbox (each in its own
    unit of work, as the dispatcher does); returns how many events it saw."""
    name = {
        "order.paid": "attribution.credit_paid_order",
        "order.completed": "attribution.credit_completed_order",
    }[topic]
    sub = subscriber(name)
    assert sub is not None
    async with UnitOfWork(state.read_factory) as uow:
        found = list(
            await uow.session.scalars(select(OutboxEvent).where(OutboxEvent.topic == topic))
        )
    for event in found:
        outcome = await apply(state.write_factory, sub, envelope_of(event))
        assert outcome in (Outcome.APPLIED, Outcome.DUPLICATE), outcome
    return len(found)


async def credits(state: AppState, order_id: int) -> dict[str, Credit]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.scalars(select(Credit).where(Credit.order_id == order_id))
        return {c.role: c for c in rows}


async def outbox(state: AppState, topic: str) -> list[dict[str, Any]]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id)
        )
        return [e.payload for e in rows]
