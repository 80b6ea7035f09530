"""Many real concurrent clients against one SKU, on SQLite and on PostgreSQL.

Each task opens its own unit of work (its own connection and transaction), so the
database, not the event loop, decides the order: on PostgreSQL the level row lock; on
SQLite ``BEGIN IMMEDIATE`` with a busy timeout. After the storm: never negative, never
oversold (exactly min(stock, demand) succeed), never sold twice, ledger == counts.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from loopmall.core.errors import IllegalTransition
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.inventory import locations, service
from loopmall.inventory.jobs import sweep
from loopmall.inventory.models import Hold, Location, StockMovement
from loopmall.inventory.rules import InsufficientStock
from tests.factories import make_merchant, owner_headers
from tests.inventory.fixtures import assert_consistent, level_state, make_skus, make_store

TASKS = 120
TTL = timedelta(minutes=10)


async def run_all(state: AppState, n: int, op: Callable[[Any, int], Awaitable[Any]]) -> list[Any]:
    """Run ``op(session, i)`` in ``n`` concurrent tasks, each in its own committed UoW."""

    async def one(i: int) -> Any:
        async with UnitOfWork(state.write_factory) as uow:
            result = await op(uow.session, i)
            await uow.commit()
            return result

    return await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)


def tally(results: list[Any], *expected_errors: type[Exception]) -> Counter[str]:
    """Count successes and expected refusals; any other outcome fails the test."""
    counts: Counter[str] = Counter()
    for r in results:
        if isinstance(r, expected_errors):
            counts[type(r).__name__] += 1
        elif isinstance(r, BaseException):
            raise AssertionError(f"unexpected {type(r).__name__}: {r}") from r
        else:
            counts["ok"] += 1
    return counts


async def stocked(state: AppState, units: int) -> tuple[Tenant, int, int]:
    """A merchant with one SKU holding ``units`` in its default warehouse."""
    tenant = await make_merchant(state, "race")
    (sku,) = await make_skus(state, tenant)
    async with UnitOfWork(state.write_factory) as uow:
        loc = await locations.default_warehouse(uow.session, tenant)
        if units:
            await service.adjust_stock(
                uow.session,
                tenant,
                sku_id=sku.id,
                location_id=loc.id,
                delta=units,
                reason="stock",
                actor="system",
            )
        await uow.commit()
        return tenant, sku.id, loc.id


async def test_more_buyers_than_units_exactly_the_stock_is_held(state: AppState) -> None:
    tenant, sku_id, loc_id = await stocked(state, 50)

    async def take(session: Any, i: int) -> Hold:
        return await service.place_hold(
            session,
            tenant,
            sku_id=sku_id,
            location_id=loc_id,
            quantity=1,
            ttl=TTL,
            reason="order",
            reference=f"o{i}",
            actor="system",
        )

    counts = tally(await run_all(state, TASKS, take), InsufficientStock)
    assert counts == {"ok": 50, "InsufficientStock": TASKS - 50}
    [lv] = await level_state(state, tenant, sku_id)
    assert (lv.on_hand, lv.held) == (50, 50)
    await assert_consistent(state, tenant, sku_id)


async def test_holds_and_removals_together_never_take_more_than_the_stock(
    state: AppState,
) -> None:
    tenant, sku_id, loc_id = await stocked(state, 100)

    async def hold_or_remove(session: Any, i: int) -> str:
        if i % 2:
            await service.place_hold(
                session,
                tenant,
                sku_id=sku_id,
                location_id=loc_id,
                quantity=1,
                ttl=TTL,
                reason="guide",
                reference="",
                actor="system",
            )
            return "held"
        await service.adjust_stock(
            session,
            tenant,
            sku_id=sku_id,
            location_id=loc_id,
            delta=-1,
            reason="damaged",
            actor="system",
        )
        return "removed"

    results = await run_all(state, 140, hold_or_remove)
    counts = tally(results, InsufficientStock)
    assert counts == {"ok": 100, "InsufficientStock": 40}
    done = Counter(r for r in results if isinstance(r, str))
    [lv] = await level_state(state, tenant, sku_id)
    assert (lv.on_hand, lv.held) == (100 - done["removed"], done["held"])
    assert lv.on_hand - lv.held == 0
    await assert_consistent(state, tenant, sku_id)


async def test_a_hold_is_consumed_once_however_many_try(state: AppState) -> None:
    tenant, sku_id, loc_id = await stocked(state, 5)
    async with UnitOfWork(state.write_factory) as uow:
        hold = await service.place_hold(
            uow.session,
            tenant,
            sku_id=sku_id,
            location_id=loc_id,
            quantity=3,
            ttl=TTL,
            reason="order",
            reference="o1",
            actor="system",
        )
        await uow.commit()

    async def consume_or_release(session: Any, i: int) -> Hold:
        end = service.consume_hold if i % 2 else service.release_hold
        return await end(session, tenant, hold.id, actor="system")

    results = await run_all(state, TASKS, consume_or_release)
    assert tally(results, IllegalTransition) == {"ok": 1, "IllegalTransition": TASKS - 1}
    [winner] = [r for r in results if isinstance(r, Hold)]
    [lv] = await level_state(state, tenant, sku_id)
    expected_on_hand = 2 if winner.status == "consumed" else 5
    assert (lv.on_hand, lv.held) == (expected_on_hand, 0)
    await assert_consistent(state, tenant, sku_id)


async def test_hold_then_consume_or_release_storm(state: AppState) -> None:
    tenant, sku_id, loc_id = await stocked(state, 40)

    async def shopper(i: int) -> str:
        async with UnitOfWork(state.write_factory) as uow:
            try:
                hold = await service.place_hold(
                    uow.session,
                    tenant,
                    sku_id=sku_id,
                    location_id=loc_id,
                    quantity=1 + i % 2,
                    ttl=TTL,
                    reason="order",
                    reference=f"o{i}",
                    actor="system",
                )
            except InsufficientStock:
                return "refused"
            await uow.commit()
        await asyncio.sleep(0)
        async with UnitOfWork(state.write_factory) as uow:
            end = service.consume_hold if i % 3 else service.release_hold
            ended = await end(uow.session, tenant, hold.id, actor="system")
            await uow.commit()
            return f"{ended.status}:{ended.quantity}"

    results = await asyncio.gather(*(shopper(i) for i in range(TASKS)), return_exceptions=True)
    outcomes = Counter(tally_one(r) for r in results)
    sold = sum(int(k.split(":")[1]) * n for k, n in outcomes.items() if k.startswith("consumed"))
    [lv] = await level_state(state, tenant, sku_id)
    assert sold <= 40
    assert (lv.on_hand, lv.held) == (40 - sold, 0)
    await assert_consistent(state, tenant, sku_id)
    async with UnitOfWork(state.read_factory) as uow:
        statuses = Counter(
            await uow.session.scalars(select(Hold.status).where(Hold.merchant_id == tenant.id))
        )
    assert statuses["active"] == 0
    assert statuses["consumed"] + statuses["released"] == TASKS - outcomes["refused"]


def tally_one(result: Any) -> str:
    if isinstance(result, BaseException):
        raise AssertionError(f"unexpected {type(result).__name__}: {result}") from result
    return str(result)


async def test_expired_holds_lapse_exactly_once_under_racing_writers(
    state: AppState, frozen_clock: Any
) -> None:
    tenant, sku_id, loc_id = await stocked(state, 60)

    async def short_hold(session: Any, i: int) -> Hold:
        return await service.place_hold(
            session,
            tenant,
            sku_id=sku_id,
            location_id=loc_id,
            quantity=1,
            ttl=timedelta(seconds=5),
            reason="order",
            reference="",
            actor="system",
        )

    assert tally(await run_all(state, 60, short_hold)) == {"ok": 60}
    frozen_clock.advance(seconds=5)

    async def writer_or_sweeper(i: int) -> Any:
        if i % 7 == 0:  # 10 sweepers among 60 writers
            return await sweep(state)
        async with UnitOfWork(state.write_factory) as uow:
            hold = await short_hold(uow.session, i)
            await uow.commit()
            return hold

    results = await asyncio.gather(*(writer_or_sweeper(i) for i in range(70)))
    assert sum(1 for r in results if isinstance(r, Hold)) == 60  # all 60 units came back
    async with UnitOfWork(state.read_factory) as uow:
        lapses = await uow.session.scalar(
            select(func.count())
            .select_from(StockMovement)
            .where(StockMovement.kind == "lapse", StockMovement.merchant_id == tenant.id)
        )
        lapsed_holds = await uow.session.scalar(
            select(func.count())
            .select_from(Hold)
            .where(Hold.status == "lapsed", Hold.merchant_id == tenant.id)
        )
    assert (lapses, lapsed_holds) == (60, 60)
    [lv] = await level_state(state, tenant, sku_id)
    assert (lv.on_hand, lv.held) == (60, 60)
    await assert_consistent(state, tenant, sku_id)


async def test_carts_holding_two_skus_in_opposite_orders_neither_deadlock_nor_split(
    state: AppState,
) -> None:
    tenant = await make_merchant(state, "race")
    a, b = await make_skus(state, tenant, count=2)
    async with UnitOfWork(state.write_factory) as uow:
        loc = await locations.default_warehouse(uow.session, tenant)
        for sku in (a, b):
            await service.adjust_stock(
                uow.session,
                tenant,
                sku_id=sku.id,
                location_id=loc.id,
                delta=30,
                reason="stock",
                actor="system",
            )
        await uow.commit()

    async def cart(session: Any, i: int) -> list[Hold]:
        first, second = (a, b) if i % 2 else (b, a)
        return await service.place_holds(
            session,
            tenant,
            [service.HoldLine(first.id, loc.id, 1), service.HoldLine(second.id, loc.id, 1)],
            ttl=TTL,
            reason="order",
            reference=f"cart{i}",
            actor="system",
        )

    counts = tally(await run_all(state, 100, cart), InsufficientStock)
    assert counts == {"ok": 30, "InsufficientStock": 70}
    for sku in (a, b):
        [lv] = await level_state(state, tenant, sku.id)
        assert (lv.on_hand, lv.held) == (30, 30)
        await assert_consistent(state, tenant, sku.id)


async def test_locations_made_on_demand_are_made_once(state: AppState) -> None:
    tenant = await make_merchant(state, "race")
    store = await make_store(state, tenant)

    async def both(session: Any, i: int) -> tuple[int, int]:
        warehouse = await locations.default_warehouse(session, tenant)
        at_store = await locations.location_for_store(session, tenant, store.id)
        return warehouse.id, at_store.id

    results = await run_all(state, 100, both)
    assert tally(results) == {"ok": 100}
    assert len(set(results)) == 1
    async with UnitOfWork(state.read_factory) as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(Location).where(Location.merchant_id == tenant.id)
        )
    assert count == 2


async def test_concurrent_http_clients_hold_exactly_the_stock(
    state: AppState, client: httpx.AsyncClient
) -> None:
    tenant, headers = await owner_headers(state, client, "rush")
    (sku,) = await make_skus(state, tenant)
    r = await client.post(
        "/api/v1/stock/adjust",
        json={"sku": sku.public_id, "location": "online", "delta": 30, "reason": "到货"},
        headers=headers,
    )
    assert r.status_code == 200
    body = {"sku": sku.public_id, "location": "online", "quantity": 1, "ttl_seconds": 600}
    responses = await asyncio.gather(
        *(client.post("/api/v1/holds", json=body, headers=headers) for _ in range(100))
    )
    assert Counter(r.status_code for r in responses) == {201: 30, 409: 70}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"insufficient_stock"}
    [lv] = await level_state(state, tenant, sku.id)
    assert (lv.on_hand, lv.held) == (30, 30)
    await assert_consistent(state, tenant, sku.id)
