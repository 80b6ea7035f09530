"""Holds, fittings and the store sale through the HTTP API, the reminder job, and each bad
input refused with its code, nothing written."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from loopmall.core import clock
from loopmall.core.models import OutboxEvent
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.guides.models import Fitting, GuideHold
from loopmall.inventory.models import Hold
from loopmall.merchants.models import Store
from loopmall.notifications.models import InboxMessage
from loopmall.orders.models import Order
from tests.factories import token_for
from tests.guides.fixtures import AFTERNOON_SLOT, MORNING, World, make_world, start_chat
from tests.orders.fixtures import stock


async def _count(state: AppState, model: Any) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def _sku_id(state: AppState, public_id: str) -> int:
    from loopmall.catalog.models import Sku

    async with UnitOfWork(state.read_factory) as uow:
        found = await uow.session.scalar(select(Sku.id).where(Sku.public_id == public_id))
        assert found is not None
        return int(found)


async def _store_location(state: AppState, world: World) -> int:
    from loopmall.inventory.models import Location

    async with UnitOfWork(state.read_factory) as uow:
        found = await uow.session.scalar(
            select(Location.id).where(Location.store_id == world.store_id)
        )
        assert found is not None
        return int(found)


async def test_hold_fitting_and_store_sale(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    frozen_clock.set(MORNING)
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "黑色连衣裙，M码")
    sku_id = await _sku_id(state, world.skus["驼/L"])
    location = await _store_location(state, world)

    held = await client.post(
        "/api/v1/guides/holds",
        json={"conversation": conversation, "sku": world.skus["驼/L"], "ttl_seconds": 24 * 3600},
        headers=world.guide_headers,
    )
    assert held.status_code == 201, held.text
    assert (held.json()["status"], held.json()["unit_fen"]) == ("active", 59900)
    assert await stock(state, sku_id, location) == (2, 1)

    slots = await client.get(
        f"/api/v1/guides/fittings/slots?conversation={conversation}&day=2026-11-23",
        headers=world.guide_headers,
    )
    assert "14:00" in [s["local_time"] for s in slots.json()]
    booked = await client.post(
        "/api/v1/guides/fittings",
        json={"conversation": conversation, "starts_at": AFTERNOON_SLOT, "hold": held.json()["id"]},
        headers=world.guide_headers,
    )
    assert booked.status_code == 201, booked.text
    assert (booked.json()["local_time"], booked.json()["status"]) == ("2026-11-23 14:00", "booked")
    slots = await client.get(
        f"/api/v1/guides/fittings/slots?conversation={conversation}&day=2026-11-23",
        headers=world.guide_headers,
    )
    assert [s["taken"] for s in slots.json() if s["local_time"] == "14:00"] == [True]

    # The customer hears of it: the chat, the inbox, and their fittings.
    mine = await client.get("/api/v1/mall/vero/chat/messages", headers=world.shopper)
    assert [m["kind"] for m in mine.json()][-2:] == ["hold", "fitting"]
    await state.extras["dispatcher"].drain()
    async with UnitOfWork(state.read_factory) as uow:
        inbox = (await uow.session.scalars(select(InboxMessage))).all()
    assert [(m.topic, m.data["when"], m.data["store"]) for m in inbox] == [
        ("fitting.booked", "11-23 14:00", "西单店")
    ]
    fittings = await client.get("/api/v1/mall/vero/fittings", headers=world.shopper)
    assert [f["id"] for f in fittings.json()] == [booked.json()["id"]]

    sold = await client.post(
        f"/api/v1/guides/fittings/{booked.json()['id']}/outcome",
        json={"outcome": "sold"},
        headers=world.guide_headers,
    )
    assert sold.status_code == 200, sold.text
    assert sold.json()["status"] == "sold" and sold.json()["order"]
    # Rung up at the store's price, unpaid: the units stay held until the till takes the
    # money (#11: no sale is completed, nor credited, without money).
    sale = await client.get(
        f"/api/v1/store-sales/{sold.json()['order']}", headers=world.guide_headers
    )
    assert (sale.json()["status"], sale.json()["total_fen"], sale.json()["paid_fen"]) == (
        "created",
        59900,
        0,
    )
    assert await stock(state, sku_id, location) == (2, 1)
    cashier = await token_for(client, world.tenant.slug, world.cashier.phone)
    paid = await client.post(
        f"/api/v1/store-sales/{sold.json()['order']}/receipt",
        json={"amount_fen": 59900},
        headers=cashier,
    )
    assert paid.status_code == 200, paid.text
    async with UnitOfWork(state.read_factory) as uow:
        order = await uow.session.scalar(select(Order))
        assert order is not None
        assert (order.kind, order.status, order.total_fen, order.paid_fen) == (
            "store_sale",
            "completed",
            59900,
            59900,
        )
        assert (order.store_id, order.guide_staff_id, order.customer_id) == (
            world.store_id,
            world.guide.staff_id,
            world.customer_id,
        )
        topics = (
            await uow.session.scalars(
                select(OutboxEvent.topic)
                .where(OutboxEvent.topic.like("order.%"))
                .order_by(OutboxEvent.id)
            )
        ).all()
    assert list(topics) == ["order.created", "order.paid", "order.completed"]
    assert await stock(state, sku_id, location) == (1, 0)
    # Attribution credits the store sale to the guide and the store (order.paid), on the
    # amount the till received.
    await state.extras["dispatcher"].drain()
    async with UnitOfWork(state.read_factory) as uow:
        credited = (
            await uow.session.scalars(
                select(OutboxEvent.payload).where(OutboxEvent.topic == "attribution.credited")
            )
        ).all()
    assert [c["amount_fen"] for c in credited] == [59900]
    roles = {c["role"]: (c["store_id"], c["guide_staff_id"]) for c in credited[0]["credits"]}
    assert roles["guide"] == (world.store_id, world.guide.staff_id)
    assert roles["store"][0] == world.store_id
    # The fitting is over: a second outcome is refused.
    again = await client.post(
        f"/api/v1/guides/fittings/{booked.json()['id']}/outcome",
        json={"outcome": "released"},
        headers=world.guide_headers,
    )
    assert (again.status_code, again.json()["code"]) == (409, "illegal_transition")


async def test_a_no_show_gives_the_held_item_back(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    frozen_clock.set(MORNING)
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "想试试大衣")
    held = await client.post(
        "/api/v1/guides/holds",
        json={"conversation": conversation, "sku": world.skus["驼/L"], "ttl_seconds": 7200},
        headers=world.guide_headers,
    )
    # Held until 12:00: a fitting at 14:00 would find the item gone.
    late = await client.post(
        "/api/v1/guides/fittings",
        json={"conversation": conversation, "starts_at": AFTERNOON_SLOT, "hold": held.json()["id"]},
        headers=world.guide_headers,
    )
    assert (late.status_code, late.json()["code"]) == (422, "hold_ends_before_fitting")
    assert await _count(state, Fitting) == 0
    released = await client.post(
        f"/api/v1/guides/holds/{held.json()['id']}/release", headers=world.guide_headers
    )
    assert released.json()["status"] == "released"
    held = await client.post(
        "/api/v1/guides/holds",
        json={"conversation": conversation, "sku": world.skus["驼/L"], "ttl_seconds": 6 * 3600},
        headers=world.guide_headers,
    )
    booked = await client.post(
        "/api/v1/guides/fittings",
        json={"conversation": conversation, "starts_at": AFTERNOON_SLOT, "hold": held.json()["id"]},
        headers=world.guide_headers,
    )
    gone = await client.post(
        f"/api/v1/guides/fittings/{booked.json()['id']}/outcome",
        json={"outcome": "no_show"},
        headers=world.guide_headers,
    )
    assert gone.status_code == 200, (held.text, booked.text, gone.text)
    assert gone.json()["status"] == "no_show"
    sku_id = await _sku_id(state, world.skus["驼/L"])
    assert await stock(state, sku_id, await _store_location(state, world)) == (2, 0)
    async with UnitOfWork(state.read_factory) as uow:
        statuses = (
            await uow.session.scalars(select(GuideHold.status).order_by(GuideHold.id))
        ).all()
    assert list(statuses) == ["released", "no_show"]


async def test_bad_holds_and_fittings_are_refused_with_nothing_written(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    frozen_clock.set(MORNING)
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "你好")

    too_long = await client.post(
        "/api/v1/guides/holds",
        json={"conversation": conversation, "sku": world.skus["驼/L"], "ttl_seconds": 49 * 3600},
        headers=world.guide_headers,
    )
    assert (too_long.status_code, too_long.json()["code"]) == (422, "hold_too_long")
    assert too_long.json()["max_seconds"] == 48 * 3600
    # The merchant allows longer holds: now it is fine.
    put = await client.put(
        "/api/v1/guides/settings",
        json={"max_hold_seconds": 72 * 3600, "slot_minutes": 30},
        headers=world.owner,
    )
    assert put.status_code == 200
    no_stock = await client.post(
        "/api/v1/guides/holds",
        json={"conversation": conversation, "sku": world.skus["黑/L"], "ttl_seconds": 3600},
        headers=world.guide_headers,
    )
    assert (no_stock.status_code, no_stock.json()["code"]) == (409, "insufficient_stock")
    assert await _count(state, Hold) == 0 and await _count(state, GuideHold) == 0

    async with UnitOfWork(state.write_factory) as uow:
        store = await uow.session.get(Store, world.store_id)
        assert store is not None
        store.opening_hours = {d: [["10:00", "14:00"]] for d in ("mon", "tue", "wed")}
        await uow.commit()
    closed = await client.post(
        "/api/v1/guides/fittings",
        json={"conversation": conversation, "starts_at": AFTERNOON_SLOT},
        headers=world.guide_headers,
    )
    assert (closed.status_code, closed.json()["code"]) == (422, "fitting_closed_hour")
    off_grid = await client.post(
        "/api/v1/guides/fittings",
        json={"conversation": conversation, "starts_at": "2026-11-23T11:10:00+08:00"},
        headers=world.guide_headers,
    )
    assert (off_grid.status_code, off_grid.json()["code"]) == (422, "fitting_slot_invalid")
    past = await client.post(
        "/api/v1/guides/fittings",
        json={"conversation": conversation, "starts_at": "2026-11-23T09:00:00+08:00"},
        headers=world.guide_headers,
    )
    assert (past.status_code, past.json()["code"]) == (422, "fitting_slot_invalid")
    first = await client.post(
        "/api/v1/guides/fittings",
        json={"conversation": conversation, "starts_at": "2026-11-23T11:00:00+08:00"},
        headers=world.guide_headers,
    )
    assert first.status_code == 201, first.text
    taken = await client.post(
        "/api/v1/guides/fittings",
        json={"conversation": conversation, "starts_at": "2026-11-23T11:00:00+08:00"},
        headers=world.guide_headers,
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "fitting_slot_taken")
    assert await _count(state, Fitting) == 1
    # Selling a fitting with no held item is refused.
    nothing = await client.post(
        f"/api/v1/guides/fittings/{first.json()['id']}/outcome",
        json={"outcome": "sold"},
        headers=world.guide_headers,
    )
    assert (nothing.status_code, nothing.json()["code"]) == (422, "validation_failed")
    # A cancelled booking frees the slot.
    await client.post(
        f"/api/v1/guides/fittings/{first.json()['id']}/outcome",
        json={"outcome": "cancelled"},
        headers=world.guide_headers,
    )
    rebooked = await client.post(
        "/api/v1/guides/fittings",
        json={"conversation": conversation, "starts_at": "2026-11-23T11:00:00+08:00"},
        headers=world.guide_headers,
    )
    assert rebooked.status_code == 201


async def test_the_customer_is_reminded_once_before_the_fitting(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    from datetime import timedelta

    from loopmall.guides.jobs import remind_fittings

    frozen_clock.set(MORNING)  # 10:00; the fitting is at 14:00, reminders 2 h before
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "你好")
    booked = await client.post(
        "/api/v1/guides/fittings",
        json={"conversation": conversation, "starts_at": AFTERNOON_SLOT},
        headers=world.guide_headers,
    )
    assert booked.status_code == 201
    assert await remind_fittings(state) == 0
    frozen_clock.advance(hours=2, minutes=1)
    assert await remind_fittings(state) == 1
    assert await remind_fittings(state) == 0
    await state.extras["dispatcher"].drain()
    async with UnitOfWork(state.read_factory) as uow:
        topics = (
            await uow.session.scalars(select(InboxMessage.topic).order_by(InboxMessage.id))
        ).all()
    assert list(topics) == ["fitting.booked", "fitting.reminder"]
    inbox = await client.get("/api/v1/mall/vero/inbox", headers=world.shopper)
    assert inbox.status_code == 200
    # A fitting that was cancelled is not reminded.
    frozen_clock.set(MORNING + timedelta(days=1))
    again = await client.post(
        "/api/v1/guides/fittings",
        json={"conversation": conversation, "starts_at": "2026-11-24T14:00:00+08:00"},
        headers=world.guide_headers,
    )
    await client.post(
        f"/api/v1/guides/fittings/{again.json()['id']}/outcome",
        json={"outcome": "cancelled"},
        headers=world.guide_headers,
    )
    frozen_clock.advance(hours=3)
    assert await remind_fittings(state) == 0


async def test_racing_bookings_of_one_slot_make_one_fitting(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    import asyncio

    frozen_clock.set(MORNING)
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "你好")

    async def book() -> int:
        response = await client.post(
            "/api/v1/guides/fittings",
            json={"conversation": conversation, "starts_at": AFTERNOON_SLOT},
            headers=world.guide_headers,
        )
        assert response.status_code in (201, 409), response.text
        if response.status_code == 409:
            assert response.json()["code"] == "fitting_slot_taken"
        return response.status_code

    codes = await asyncio.gather(*(book() for _ in range(6)))
    assert sorted(codes) == [201, 409, 409, 409, 409, 409]
    assert await _count(state, Fitting) == 1
