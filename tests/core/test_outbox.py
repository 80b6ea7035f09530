"""The outbox: events exist exactly when their transaction commits; failures retry; dead ends."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock, outbox
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import Dispatcher, publish, subscribe
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork

seen: list[tuple[str, dict]] = []
failures = {"left": 0}


@subscribe("test.ping")
async def _record(session: AsyncSession, event: OutboxEvent) -> None:
    if failures["left"] > 0:
        failures["left"] -= 1
        raise RuntimeError("provider down")
    seen.append((event.topic, event.payload))


@pytest.fixture(autouse=True)
def _reset() -> None:
    seen.clear()
    failures["left"] = 0


async def _events(state: AppState) -> list[OutboxEvent]:
    async with UnitOfWork(state.read_factory) as uow:
        return list((await uow.session.scalars(select(OutboxEvent))).all())


async def test_rolled_back_work_publishes_nothing(state: AppState) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        await publish(uow.session, "test.ping", {"n": 1})
        # leaving without commit rolls back
    assert await _events(state) == []
    assert await Dispatcher(state.write_factory).drain() == 0
    assert seen == []


async def test_committed_event_is_delivered_once(state: AppState) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        await publish(uow.session, "test.ping", {"n": 1})
        await uow.commit()
    dispatcher = Dispatcher(state.write_factory)
    assert await dispatcher.drain() == 1
    assert await dispatcher.drain() == 0
    assert seen == [("test.ping", {"n": 1})]
    [event] = await _events(state)
    assert event.status == "done"
    assert event.dispatched_at is not None


async def test_failure_backs_off_then_succeeds(
    state: AppState, frozen_clock: clock.FrozenClock
) -> None:
    failures["left"] = 1
    async with UnitOfWork(state.write_factory) as uow:
        await publish(uow.session, "test.ping", {"n": 2})
        await uow.commit()
    dispatcher = Dispatcher(state.write_factory)
    await dispatcher.run_once()
    [event] = await _events(state)
    assert event.status == "pending"
    assert event.attempts == 1
    assert event.last_error == "RuntimeError: provider down"
    assert await dispatcher.run_once() == 0  # not due yet
    frozen_clock.advance(seconds=outbox.backoff(1).total_seconds())
    assert await dispatcher.run_once() == 1
    assert seen == [("test.ping", {"n": 2})]


async def test_gives_up_after_max_attempts(
    state: AppState, frozen_clock: clock.FrozenClock
) -> None:
    failures["left"] = outbox.MAX_ATTEMPTS + 5
    async with UnitOfWork(state.write_factory) as uow:
        await publish(uow.session, "test.ping", {"n": 3})
        await uow.commit()
    dispatcher = Dispatcher(state.write_factory)
    for _ in range(outbox.MAX_ATTEMPTS):
        await dispatcher.run_once()
        frozen_clock.advance(hours=2)
    [event] = await _events(state)
    assert event.status == "dead"
    assert event.attempts == outbox.MAX_ATTEMPTS
    assert seen == []


async def test_claim_lease_returns_events_of_a_crashed_dispatcher(
    state: AppState, frozen_clock: clock.FrozenClock
) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        await publish(uow.session, "test.ping", {"n": 4})
        await uow.commit()
    crashed = Dispatcher(state.write_factory)
    claimed = await crashed._claim()  # claimed, then the process "dies" before delivering
    assert len(claimed) == 1
    survivor = Dispatcher(state.write_factory)
    assert await survivor.run_once() == 0
    frozen_clock.advance(seconds=outbox.LEASE.total_seconds() + 1)
    assert await survivor.run_once() == 1
    assert seen == [("test.ping", {"n": 4})]


def test_backoff_grows_and_is_capped() -> None:
    assert outbox.backoff(1) == timedelta(seconds=1)
    assert outbox.backoff(4) == timedelta(seconds=8)
    assert outbox.backoff(50) == timedelta(hours=1)


@subscribe("test.slow")
async def _slow(session: AsyncSession, event: OutboxEvent) -> None:
    await session.execute(text("SELECT 1"))  # the transaction has its connection
    await asyncio.sleep(0.01)  # a handler's work


async def test_the_dispatcher_lets_other_writers_in_between_events(state: AppState) -> None:
    """On SQLite every write of a process queues on one connection (ADR 0005): a dispatcher
    going through many events hands it over between them, so another writer (the flash
    sale's order maker, the gate, a periodic job) waits for one event's transaction, not
    for every event that is due."""
    async with UnitOfWork(state.write_factory) as uow:
        for n in range(60):
            await publish(uow.session, "test.slow", {"n": n})
        await uow.commit()
    dispatcher = Dispatcher(state.write_factory, batch_size=60)
    delivering = asyncio.create_task(dispatcher.run_once())
    await asyncio.sleep(0.05)  # a few events in
    began = time.monotonic()
    async with UnitOfWork(state.write_factory) as uow:
        waited = time.monotonic() - began
        await publish(uow.session, "test.ping", {"n": "between"})
        await uow.commit()
    assert not delivering.done()  # got in while the batch was still going
    assert waited < 0.3  # not the batch's 60 × 10 ms
    assert await delivering == 60
