"""A world for the guide workbench tests: VERO's mall (``seed_mall``: the camel coat in size L
has 2 units in 西单店), two guides of that store, a guide of another store, a cashier, the
owner, and a shopper logged in to the mall (bearer headers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.models import Store
from loopmall.merchants.stores import create_store
from tests.factories import MadeStaff, make_staff, token_for
from tests.orders.fixtures import login_shopper
from tests.storefront.seed import seed_mall

# 10:00 in Shanghai on a Monday; the tests' fittings are that afternoon.
MORNING = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
AFTERNOON_SLOT = "2026-11-23T14:00:00+08:00"


@dataclass
class World:
    tenant: Tenant
    store_id: int
    store_public_id: str
    other_store_id: int
    skus: dict[str, str]
    owner: dict[str, str]
    guide: MadeStaff
    guide_headers: dict[str, str]
    colleague: MadeStaff
    colleague_headers: dict[str, str]
    stranger: MadeStaff  # a guide of another store
    stranger_headers: dict[str, str]
    cashier: MadeStaff
    customer_id: int
    shopper: dict[str, str]


async def make_world(state: AppState, client: httpx.AsyncClient) -> World:
    mall = await seed_mall(state)
    tenant = mall.tenant
    async with UnitOfWork(state.write_factory) as uow:
        store = await uow.session.scalar(
            select(Store).where(Store.merchant_id == tenant.id, Store.code == "S1")
        )
        assert store is not None
        other = await create_store(uow.session, tenant, code="S2", name="国贸店", city="北京")
        store_id, store_public_id, other_id = store.id, store.public_id, other.id
        await uow.commit()
    await make_staff(state, tenant)
    owner = await token_for(client, tenant.slug, "13800000001")
    guide = await make_staff(
        state, tenant, phone="13800000002", role="guide", name="小美", store_ids=(store_id,)
    )
    colleague = await make_staff(
        state, tenant, phone="13800000003", role="guide", name="小丽", store_ids=(store_id,)
    )
    stranger = await make_staff(
        state, tenant, phone="13800000004", role="guide", name="小王", store_ids=(other_id,)
    )
    cashier = await make_staff(
        state, tenant, phone="13800000005", role="cashier", name="收银", store_ids=(store_id,)
    )
    shopper = await login_shopper(state, tenant, "小红")
    return World(
        tenant=tenant,
        store_id=store_id,
        store_public_id=store_public_id,
        other_store_id=other_id,
        skus=mall.skus,
        owner=owner,
        guide=guide,
        guide_headers=await token_for(client, tenant.slug, guide.phone),
        colleague=colleague,
        colleague_headers=await token_for(client, tenant.slug, colleague.phone),
        stranger=stranger,
        stranger_headers=await token_for(client, tenant.slug, stranger.phone),
        cashier=cashier,
        customer_id=shopper.customer_id,
        shopper=shopper.headers,
    )


async def start_chat(client: httpx.AsyncClient, world: World, text: str) -> str:
    """The shopper opens a chat with the first guide and says ``text``; the conversation id."""
    opened = await client.post(
        "/api/v1/mall/vero/chat", json={"guide": world.guide.public_id}, headers=world.shopper
    )
    assert opened.status_code == 200, opened.text
    sent = await client.post(
        "/api/v1/mall/vero/chat/messages", json={"body": text}, headers=world.shopper
    )
    assert sent.status_code == 201, sent.text
    conversation: str = opened.json()["id"]
    return conversation
