"""A mall for the o2o tests: VERO's seed mall (a store, a coat in four SKUs), its owner, a
shopping guide of the store, a second store with its manager, and shoppers logged in
through the mall's login page (cookies) or the consumer API (bearer)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.models import Store
from loopmall.merchants.stores import create_store
from tests.factories import MadeStaff, make_staff, token_for
from tests.storefront.seed import Mall, seed_mall

HTML = {"Accept": "text/html"}


@dataclass
class World:
    mall: Mall
    store_id: int
    store: str  # public id
    other_store_id: int
    other_store: str
    owner: dict[str, str]
    guide: MadeStaff
    guide_headers: dict[str, str]
    manager_headers: dict[str, str]  # store manager of the other store


async def make_world(state: AppState, client: httpx.AsyncClient) -> World:
    mall = await seed_mall(state)
    async with UnitOfWork(state.write_factory) as uow:
        store = await uow.session.scalar(select(Store).where(Store.merchant_id == mall.tenant.id))
        assert store is not None
        other = await create_store(uow.session, mall.tenant, code="S2", name="国贸店", city="北京")
        await uow.commit()
    await make_staff(state, mall.tenant)
    guide = await make_staff(
        state, mall.tenant, phone="13800000002", role="guide", name="小美", store_ids=(store.id,)
    )
    await make_staff(
        state,
        mall.tenant,
        phone="13800000003",
        role="store_manager",
        name="王店长",
        store_ids=(other.id,),
    )
    return World(
        mall=mall,
        store_id=store.id,
        store=store.public_id,
        other_store_id=other.id,
        other_store=other.public_id,
        owner=await token_for(client, "vero", "13800000001"),
        guide=guide,
        guide_headers=await token_for(client, "vero", "13800000002"),
        manager_headers=await token_for(client, "vero", "13800000003"),
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page carries a CSRF token"
    return found.group(1)


async def page_login(client: httpx.AsyncClient, slug: str, name: str, next_path: str) -> str:
    """Log in through the mall's sandbox login form; returns where it sent us."""
    page = await client.get(f"/m/{slug}/login", params={"next": next_path})
    response = await client.post(
        f"/m/{slug}/login/sandbox",
        data={"name": name, "phone": "", "next": next_path, "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def api_login(client: httpx.AsyncClient, slug: str, name: str) -> dict[str, str]:
    response = await client.post(f"/api/v1/mall/{slug}/auth/sandbox", json={"name": name})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, object]
) -> dict[str, object]:
    response = await client.post("/api/v1/channels", json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data
