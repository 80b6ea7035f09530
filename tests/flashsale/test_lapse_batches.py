"""Lapsed units reach the Redis gate batch by batch, and a lapse whose return never reached
Redis is repaired by the every-minute reconcile without coming back twice (issue #21)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from bench.flashsale.world import World, build_world
from sqlalchemy import update

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale import lapse
from loopmall.flashsale.gate_redis import SaleKeys
from loopmall.flashsale.lapse import lapse_unpaid
from loopmall.flashsale.models import FlashTicket
from loopmall.flashsale.reconcile import reconcile_job
from loopmall.orders import hooks
from loopmall.orders.models import Order
from tests.flashsale.test_redis_flow import (  # its fixtures: an app on the Redis gate
    buy,
    check,
    drain,
    rclient,
    redis_app,
    redis_settings,
    rstate,
)

__all__ = ["rclient", "redis_app", "redis_settings", "rstate"]


async def sold_out_world(client: httpx.AsyncClient, state: AppState, units: int) -> World:
    """A Redis sale whose ``units`` units all went to holders, each an unpaid order."""
    world = await build_world(state, holders=units, stock=units, pay_within_seconds=60)
    await drain(state)
    for customer in world.customer_ids:
        assert (await buy(client, state, world, customer)).json()["status"] == "accepted"
    await drain(state)
    return world


@pytest.fixture
async def stock_seen_at_each_cancel(rstate: AppState) -> AsyncIterator[list[int]]:
    """Redis's units left for the sale as each cancel begins (a hook, removed after)."""
    seen: list[int] = []

    async def look(_session: Any, _tenant: Tenant, _order: Order) -> None:
        raw = await rstate.redis.get(rstate.extras["test.stock_key"])
        seen.append(int(raw))

    hooks.before("cancel")(look)
    yield seen
    hooks.remove("cancel", look)


async def test_each_batch_of_lapses_is_back_in_redis_before_the_next_batch_starts(
    rclient: httpx.AsyncClient,
    rstate: AppState,
    stock_seen_at_each_cancel: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given 7 units sold, each an unpaid order past its pay-within time
    world = await sold_out_world(rclient, rstate, 7)
    rstate.extras["test.stock_key"] = SaleKeys(rstate.settings.redis_prefix, world.sale_id).stock
    # When the sweep lapses them three at a time (however long the cancels take)
    monkeypatch.setattr(lapse, "RETURN_WITHIN_SECONDS", 3600.0)
    later = clock.now() + timedelta(minutes=5)
    lapsed = await lapse_unpaid(rstate, now=later, return_every=3, concurrency=1)
    # Then each batch's units were back in Redis before the next batch's first cancel
    assert lapsed == 7
    assert stock_seen_at_each_cancel == [0, 0, 0, 3, 3, 3, 6]
    report = await check(rstate, world)
    assert report.ok, report.problems
    assert (report.redis_left, report.redis_returned, report.lapsed_units) == (7, 7, 7)


async def test_a_batch_is_pushed_once_its_first_lapse_is_a_moment_old(
    rclient: httpx.AsyncClient,
    rstate: AppState,
    stock_seen_at_each_cancel: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given 4 lapses due, and a batch that may wait no time after its first lapse
    world = await sold_out_world(rclient, rstate, 4)
    rstate.extras["test.stock_key"] = SaleKeys(rstate.settings.redis_prefix, world.sale_id).stock
    monkeypatch.setattr(lapse, "RETURN_WITHIN_SECONDS", 0.0)
    # When the sweep runs with room for 50 cancels a batch
    later = clock.now() + timedelta(minutes=5)
    assert await lapse_unpaid(rstate, now=later, concurrency=1) == 4
    # Then every unit was back before the next cancel began
    assert stock_seen_at_each_cancel == [0, 1, 2, 3]


async def test_sweeps_cancelling_at_once_lapse_each_order_once(
    rclient: httpx.AsyncClient, rstate: AppState
) -> None:
    # Given 12 lapses due
    world = await sold_out_world(rclient, rstate, 12)
    later = clock.now() + timedelta(minutes=5)
    # When two sweeps run at once (two processes), each with four cancellers
    counts = await asyncio.gather(
        lapse_unpaid(rstate, now=later, return_every=2, concurrency=4),
        lapse_unpaid(rstate, now=later, return_every=2, concurrency=4),
    )
    # Then each order lapsed once and each unit is back in Redis once
    assert sum(counts) == 12
    report = await check(rstate, world)
    assert report.ok, report.problems
    assert (report.redis_left, report.redis_returned, report.lapsed_units) == (12, 12, 12)


async def test_a_lapse_never_pushed_to_redis_is_repaired_once_by_the_reconcile_job(
    rclient: httpx.AsyncClient, rstate: AppState
) -> None:
    # Given two lapses whose push into Redis was lost (a crash after the cancels' commits:
    # the units are back in the database, not in Redis, and not marked returned)
    world = await sold_out_world(rclient, rstate, 3)
    keys = SaleKeys(rstate.settings.redis_prefix, world.sale_id)
    assert await lapse_unpaid(rstate, now=clock.now() + timedelta(minutes=5)) == 3
    await rstate.redis.set(keys.stock, 1)
    await rstate.redis.srem(keys.returned, *sorted(await rstate.redis.smembers(keys.returned))[:2])
    async with UnitOfWork(rstate.write_factory) as uow:
        await uow.session.execute(
            update(FlashTicket)
            .where(FlashTicket.sale_id == world.sale_id)
            .values(redis_returned_at=None)
        )
        await uow.commit()
    before = await check(rstate, world)
    assert "redis: 2 lapsed units never went back on sale" in before.problems
    # When the every-minute job runs (twice: a repeat must not return them again)
    assert await reconcile_job(rstate) == 1
    assert await reconcile_job(rstate) == 1
    # Then Redis holds the three units once each, and agrees with the database
    after = await check(rstate, world)
    assert after.ok, after.problems
    assert (after.redis_left, after.redis_returned) == (3, 3)


async def test_the_reconcile_job_reports_drift_beside_a_live_gate_without_rewriting_it(
    rclient: httpx.AsyncClient, rstate: AppState
) -> None:
    # Given a live sale whose Redis count differs from the database's in a way a lapse does
    # not explain (as an attempt accepted between the job's two reads would look)
    world = await sold_out_world(rclient, rstate, 2)
    keys = SaleKeys(rstate.settings.redis_prefix, world.sale_id)
    await rstate.redis.set(keys.stock, 5)
    # When the job runs
    await reconcile_job(rstate)
    # Then it reported the drift and left Redis's count alone (a reload would write over
    # units a working gate may just have taken)
    assert await rstate.redis.get(keys.stock) == "5"
    report = await check(rstate, world)
    assert "redis: 5 units left, the database says 0" in report.problems
