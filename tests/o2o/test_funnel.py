"""A poster's funnel end to end: two devices scan it, one logs in and buys, the order is
paid, attribution credits the placement, and the code shows scans → visitors → orders →
GMV (attribution.repository.totals_by_channel)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loopmall.core.outbox import Dispatcher
from loopmall.core.state import AppState
from tests.o2o.world import World, api_login, create, make_world
from tests.orders.fixtures import pay_order

ADDRESS = {"name": "阿花", "phone": "13812345678", "address": "北京市西城区西单北大街 1 号"}


@pytest.fixture
async def world(state: AppState, client: httpx.AsyncClient) -> World:
    return await make_world(state, client)


@pytest.fixture
async def devices(app: Any) -> Any:
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as one,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as two,
    ):
        yield one, two


async def test_scans_visitors_orders_and_gmv_of_a_poster(
    state: AppState, client: httpx.AsyncClient, devices: Any, world: World
) -> None:
    one, two = devices
    poster = await create(
        client, world.owner, {"kind": "placement", "place_name": "城市画报 11 月刊"}
    )
    await one.get(f"/q/{poster['code']}")
    await one.get(f"/q/{poster['code']}")
    await two.get(f"/q/{poster['code']}")
    shopper = await api_login(one, "vero", "阿花")
    r = await one.post(
        "/api/v1/mall/vero/cart/items",
        json={"sku": world.mall.skus["黑/M"], "quantity": 1},
        headers=shopper,
    )
    assert r.status_code == 200, r.text
    order = await one.post(
        "/api/v1/mall/vero/checkout",
        json={"fulfilment": "delivery", "address": ADDRESS},
        headers=shopper,
    )
    assert order.status_code == 201, order.text
    await pay_order(state, world.mall.tenant, order.json()["id"])
    await Dispatcher(state.write_factory).drain()
    funnel = (await client.get(f"/api/v1/channels/{poster['id']}", headers=world.owner)).json()
    assert funnel["funnel"] == {
        "scans": 3,
        "visitors": 2,
        "members": 0,
        "orders": 1,
        "gmv_fen": 59900,
    }
    ledger = await client.get("/api/v1/attribution/ledger?role=placement", headers=world.owner)
    assert ledger.status_code == 200, ledger.text
    credits = [(c["placement"], c["amount_fen"]) for c in ledger.json()["items"]]
    assert credits == [("城市画报 11 月刊", 59900)]
