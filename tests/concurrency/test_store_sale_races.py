"""A store sale under concurrent clients, on SQLite and PostgreSQL (issue #11, case 1): one
hold rings up once however many taps race, and the till takes the money once — one order,
one payment, one credit."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from loopmall.core import clock
from loopmall.core.models import OutboxEvent
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.orders.models import Order, OrderStep
from tests.factories import token_for
from tests.guides.fixtures import MORNING, make_world, start_chat

TAPS = 8


async def test_racing_taps_ring_a_hold_up_once_and_the_till_takes_the_money_once(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    frozen_clock.set(MORNING)
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "要这件")
    held = await client.post(
        "/api/v1/guides/holds",
        json={"conversation": conversation, "sku": world.skus["驼/L"], "ttl_seconds": 3600},
        headers=world.guide_headers,
    )
    hold = held.json()["id"]

    async def ring_up() -> httpx.Response:
        return await client.post(
            f"/api/v1/guides/holds/{hold}/sale", json={}, headers=world.guide_headers
        )

    rung = await asyncio.gather(*(ring_up() for _ in range(TAPS)))
    codes = sorted((r.status_code, r.json().get("code", "")) for r in rung)
    assert codes[0] == (200, ""), codes
    assert {c for c in codes[1:]} <= {(409, "hold_not_active"), (409, "illegal_transition")}
    async with UnitOfWork(state.read_factory) as uow:
        orders = (await uow.session.scalars(select(Order.public_id))).all()
    assert len(orders) == 1

    cashier = await token_for(client, world.tenant.slug, world.cashier.phone)

    async def take_money() -> httpx.Response:
        return await client.post(
            f"/api/v1/store-sales/{orders[0]}/receipt", json={"amount_fen": 59900}, headers=cashier
        )

    paid = await asyncio.gather(*(take_money() for _ in range(TAPS)))
    assert sorted(r.status_code for r in paid) == [200] + [409] * (TAPS - 1)
    await state.extras["dispatcher"].drain()
    async with UnitOfWork(state.read_factory) as uow:
        order = await uow.session.scalar(select(Order))
        assert order is not None
        assert (order.status, order.paid_fen) == ("completed", 59900)
        steps = await uow.session.scalar(
            select(func.count()).select_from(OrderStep).where(OrderStep.to_status == "paid")
        )
        credited = await uow.session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.topic == "attribution.credited")
        )
    assert (steps, credited) == (1, 1)


async def test_a_release_racing_a_ring_up_ends_the_hold_one_way(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    frozen_clock.set(MORNING)
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "要这件")
    held = await client.post(
        "/api/v1/guides/holds",
        json={"conversation": conversation, "sku": world.skus["驼/L"], "ttl_seconds": 3600},
        headers=world.guide_headers,
    )
    hold = held.json()["id"]

    async def tap(i: int) -> tuple[str, int]:
        action = "sale" if i % 2 else "release"
        body = {} if action == "sale" else None
        response = await client.post(
            f"/api/v1/guides/holds/{hold}/{action}", json=body, headers=world.guide_headers
        )
        return action, response.status_code

    results = await asyncio.gather(*(tap(i) for i in range(TAPS)))
    won = [action for action, status in results if status == 200]
    assert len(won) == 1, results
    assert all(status == 409 for _action, status in results if status != 200), results
    async with UnitOfWork(state.read_factory) as uow:
        from loopmall.guides.models import GuideHold

        row = await uow.session.scalar(select(GuideHold))
        orders = await uow.session.scalar(select(func.count()).select_from(Order))
    assert row is not None
    if won == ["sale"]:
        assert (row.status, row.order_id is not None, orders) == ("active", True, 1)
    else:
        assert (row.status, row.order_id, orders) == ("released", None, 0)
