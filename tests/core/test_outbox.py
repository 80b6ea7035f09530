"""The outbox and delivery per subscriber: events exist exactly when their transaction
commits; each subscriber gets each event once, fails on its own, retries, and dead-ends."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock, outbox
from loopmall.core.events import Envelope, Event, current_delivery, subscribe
from loopmall.core.models import EventDelivery, IdempotencyRecord, OutboxEvent
from loopmall.core.outbox import Dispatcher, Outcome, apply, publish
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork


class Ping(Event):
    topic = "test.ping"
    summary = "A test event."
    n: int


class Step(Event):
    topic = "test.step"
    aggregate_field = "thing_id"
    thing_id: int
    n: int


seen: list[tuple[str, int]] = []
failures = {"left": 0, "flaky_left": 0}


@subscribe(Ping, "test.record")
async def _record(session: AsyncSession, tenant: Tenant, event: Ping) -> None:
    if failures["left"] > 0:
        failures["left"] -= 1
        raise RuntimeError("provider down")
    seen.append(("record", event.n))


@subscribe(Ping, "test.count")
async def _count(session: AsyncSession, tenant: Tenant, event: Ping) -> None:
    # A write in the handler's own transaction: counts exactly the committed applications.
    session.add(
        IdempotencyRecord(
            scope="test.count",
            key=f"{event.n}:{uuid.uuid4().hex}",
            request_hash="",
            status_code=200,
            created_at=clock.now(),
        )
    )
    seen.append(("count", event.n))


@subscribe(Step, "test.in_order", ordered=True)
async def _in_order(session: AsyncSession, tenant: Tenant, event: Step) -> None:
    if failures["flaky_left"] > 0 and event.n == 1:
        failures["flaky_left"] -= 1
        raise RuntimeError("first step fails")
    seen.append(("step", event.n))


@pytest.fixture(autouse=True)
def _reset() -> None:
    seen.clear()
    failures["left"] = 0
    failures["flaky_left"] = 0


async def _events(state: AppState) -> list[OutboxEvent]:
    async with UnitOfWork(state.read_factory) as uow:
        return list((await uow.session.scalars(select(OutboxEvent))).all())


async def _deliveries(state: AppState, name: str | None = None) -> list[EventDelivery]:
    async with UnitOfWork(state.read_factory) as uow:
        stmt = select(EventDelivery).order_by(EventDelivery.event_id)
        if name:
            stmt = stmt.where(EventDelivery.subscriber == name)
        return list((await uow.session.scalars(stmt)).all())


async def _counted(state: AppState) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        return int(
            await uow.session.scalar(
                select(func.count())
                .select_from(IdempotencyRecord)
                .where(IdempotencyRecord.scope == "test.count")
            )
            or 0
        )


async def _publish(state: AppState, *events: Event) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        await publish(uow.session, *events)
        await uow.commit()


async def test_rolled_back_work_publishes_nothing(state: AppState) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        await publish(uow.session, Ping(merchant_id=1, n=1))
        # leaving without commit rolls back
    assert await _events(state) == []
    assert await Dispatcher(state.write_factory).drain() == 0
    assert seen == []


async def test_committed_event_is_delivered_once_to_each_subscriber(state: AppState) -> None:
    await _publish(state, Ping(merchant_id=1, n=1))
    dispatcher = Dispatcher(state.write_factory)
    assert await dispatcher.drain() == 1
    assert await dispatcher.drain() == 0
    assert sorted(seen) == [("count", 1), ("record", 1)]
    [event] = await _events(state)
    assert (event.status, event.version, event.payload) == ("done", 1, {"merchant_id": 1, "n": 1})
    assert event.dispatched_at is not None
    deliveries = await _deliveries(state)
    assert sorted((d.subscriber, d.status, d.attempts) for d in deliveries) == [
        ("test.count", "done", 1),
        ("test.record", "done", 1),
    ]


async def test_one_failing_subscriber_does_not_replay_or_hold_up_another(
    state: AppState, frozen_clock: clock.FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    failures["left"] = 1
    await _publish(state, Ping(merchant_id=1, n=2))
    dispatcher = Dispatcher(state.write_factory)
    with caplog.at_level(logging.ERROR, logger="loopmall.core.outbox"):
        await dispatcher.run_once()
    # The failure is logged with its traceback, and kept with the delivery.
    assert any(r.exc_info and "provider down" in str(r.exc_info[1]) for r in caplog.records)
    [failed] = await _deliveries(state, "test.record")
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert failed.last_error is not None
    assert "Traceback" in failed.last_error and "RuntimeError: provider down" in failed.last_error
    [counted] = await _deliveries(state, "test.count")
    assert counted.status == "done"
    assert seen == [("count", 2)]
    assert await dispatcher.run_once() == 0  # not due yet
    frozen_clock.advance(seconds=outbox.backoff(1).total_seconds())
    assert await dispatcher.run_once() == 1
    assert sorted(seen) == [("count", 2), ("record", 2)]  # count was not replayed
    assert await _counted(state) == 1
    [failed] = await _deliveries(state, "test.record")
    assert (failed.status, failed.attempts, failed.last_error) == ("done", 2, None)


async def test_gives_up_after_max_attempts_and_an_operator_retries(
    state: AppState, frozen_clock: clock.FrozenClock
) -> None:
    failures["left"] = outbox.MAX_ATTEMPTS + 5
    await _publish(state, Ping(merchant_id=1, n=3))
    dispatcher = Dispatcher(state.write_factory)
    for _ in range(outbox.MAX_ATTEMPTS):
        await dispatcher.run_once()
        frozen_clock.advance(hours=2)
    [dead] = await _deliveries(state, "test.record")
    assert (dead.status, dead.attempts) == ("dead", outbox.MAX_ATTEMPTS)
    assert await dispatcher.run_once() == 0  # dead stays dead
    assert ("record", 3) not in seen
    async with UnitOfWork(state.read_factory) as uow:
        [(listed, event)] = await outbox.dead_deliveries(uow.session)
    assert (listed.id, event.topic) == (dead.id, "test.ping")
    failures["left"] = 0
    async with UnitOfWork(state.write_factory) as uow:
        assert await outbox.retry_dead(uow.session, [dead.id]) == 1
        await uow.commit()
    assert await dispatcher.run_once() == 1
    assert ("record", 3) in seen
    [done] = await _deliveries(state, "test.record")
    assert (done.status, done.attempts) == ("done", 1)


async def test_claim_lease_returns_events_of_a_crashed_dispatcher(
    state: AppState, frozen_clock: clock.FrozenClock
) -> None:
    await _publish(state, Ping(merchant_id=1, n=4))
    crashed = Dispatcher(state.write_factory)
    claimed = await crashed._claim()  # claimed, then the process "dies" before delivering
    assert len(claimed) == 1
    survivor = Dispatcher(state.write_factory)
    assert await survivor.run_once() == 0
    frozen_clock.advance(seconds=outbox.LEASE.total_seconds() + 1)
    assert await survivor.run_once() == 1
    assert sorted(seen) == [("count", 4), ("record", 4)]


async def test_applying_a_pair_twice_applies_it_once(state: AppState) -> None:
    """A crash after the commit and before the acknowledgement sends the event again: the
    backbone answers DUPLICATE and the handler does not run."""
    await _publish(state, Ping(merchant_id=1, n=5))
    [row] = await _events(state)
    env = outbox.envelope_of(row)
    sub = outbox.subscriber("test.count")
    assert sub is not None
    assert await apply(state.write_factory, sub, env) is Outcome.APPLIED
    assert await apply(state.write_factory, sub, env) is Outcome.DUPLICATE
    assert await _counted(state) == 1


async def test_many_concurrent_applications_of_one_pair_apply_it_once(state: AppState) -> None:
    await _publish(state, *(Ping(merchant_id=1, n=100 + i) for i in range(5)))
    envelopes = [outbox.envelope_of(row) for row in await _events(state)]
    sub = outbox.subscriber("test.count")
    assert sub is not None
    outcomes = await asyncio.gather(
        *(apply(state.write_factory, sub, env) for env in envelopes for _ in range(8))
    )
    assert outcomes.count(Outcome.APPLIED) == 5
    assert outcomes.count(Outcome.DUPLICATE) == 35
    assert await _counted(state) == 5


async def _stored(state: AppState, version: int, payload: dict[str, object]) -> Envelope:
    async with UnitOfWork(state.write_factory) as uow:
        await publish(uow.session, Ping(merchant_id=1, n=6))
        await uow.session.execute(update(OutboxEvent).values(version=version, payload=payload))
        await uow.commit()
    [row] = await _events(state)
    return outbox.envelope_of(row)


@pytest.mark.parametrize(
    ("version", "payload", "why"),
    [
        (2, {"merchant_id": 1, "n": 6}, "UnknownVersion"),
        (1, {"merchant_id": 1, "n": "six"}, "BadPayload"),
        (1, {"merchant_id": 1}, "BadPayload"),
    ],
)
async def test_an_event_that_cannot_be_read_is_dead_at_once(
    state: AppState, version: int, payload: dict[str, object], why: str
) -> None:
    await _stored(state, version, payload)
    await Dispatcher(state.write_factory).drain()
    deliveries = await _deliveries(state)
    assert sorted((d.subscriber, d.status, d.attempts) for d in deliveries) == [
        ("test.count", "dead", 1),
        ("test.record", "dead", 1),
    ]
    assert all(why in (d.last_error or "") for d in deliveries)
    assert seen == []


async def test_an_ordered_subscriber_gets_an_aggregates_events_in_order(
    state: AppState, frozen_clock: clock.FrozenClock
) -> None:
    failures["flaky_left"] = 1
    await _publish(state, *(Step(merchant_id=1, thing_id=9, n=n) for n in (1, 2, 3)))
    await _publish(state, Step(merchant_id=1, thing_id=10, n=7))  # another thing goes on
    dispatcher = Dispatcher(state.write_factory)
    await dispatcher.drain()
    assert seen == [("step", 7)]  # 2 and 3 wait behind the failed 1
    waiting = [d for d in await _deliveries(state, "test.in_order") if d.status == "pending"]
    assert len(waiting) == 3
    frozen_clock.advance(seconds=outbox.backoff(1).total_seconds() + 5)
    for _ in range(5):
        await dispatcher.drain()
        frozen_clock.advance(seconds=outbox.WAIT_BEHIND.total_seconds() + 1)
    assert seen == [("step", 7), ("step", 1), ("step", 2), ("step", 3)]
    assert {d.status for d in await _deliveries(state, "test.in_order")} == {"done"}


async def test_an_ordered_subscriber_waits_for_an_earlier_event_still_in_the_outbox(
    state: AppState, frozen_clock: clock.FrozenClock
) -> None:
    """A broker that restarted half-way through a relay batch can hand a later event on
    before an earlier one that is still pending in the outbox: the later one waits."""
    await _publish(
        state, Step(merchant_id=1, thing_id=11, n=1), Step(merchant_id=1, thing_id=11, n=2)
    )
    first, second = [outbox.envelope_of(row) for row in await _events(state)]
    sub = outbox.subscriber("test.in_order")
    assert sub is not None
    assert await apply(state.write_factory, sub, second) is Outcome.WAITING
    assert seen == []
    assert await apply(state.write_factory, sub, first) is Outcome.APPLIED
    frozen_clock.advance(seconds=outbox.WAIT_BEHIND.total_seconds() + 1)
    assert await Dispatcher(state.write_factory, transport=_DownBroker()).retry_due() == 1
    assert seen == [("step", 1), ("step", 2)]
    # In one process the batch's rows are still pending while it is applied, one by one:
    # an earlier event already through does not hold the next back.
    await _publish(
        state, Step(merchant_id=1, thing_id=12, n=3), Step(merchant_id=1, thing_id=12, n=4)
    )
    third, fourth = [outbox.envelope_of(row) for row in (await _events(state))[2:]]
    assert await apply(state.write_factory, sub, third) is Outcome.APPLIED
    assert await apply(state.write_factory, sub, fourth) is Outcome.APPLIED


class _DownBroker:
    def __init__(self) -> None:
        self.sent: list[int] = []
        self.down = True

    async def send(self, envelopes: Sequence[Envelope]) -> None:
        if self.down:
            raise ConnectionError("broker down")
        self.sent.extend(env.id for env in envelopes)


async def test_a_broker_down_at_publish_time_keeps_the_event_for_later(
    state: AppState, frozen_clock: clock.FrozenClock
) -> None:
    await _publish(state, Ping(merchant_id=1, n=8))
    broker = _DownBroker()
    relay = Dispatcher(state.write_factory, transport=broker, retries=False)
    assert await relay.run_once() == 0
    [event] = await _events(state)
    assert event.status == "pending" and "broker down" in (event.last_error or "")
    broker.down = False
    frozen_clock.advance(seconds=outbox.backoff(1).total_seconds() + 1)
    assert await relay.run_once() == 1
    assert broker.sent == [event.id]
    [event] = await _events(state)
    assert event.status == "done"


async def test_a_handler_can_tell_a_replay(state: AppState) -> None:
    attempts: list[int] = []

    class Probe(Event):
        topic = "test.probe"

    @subscribe(Probe, "test.probe")
    async def _probe(session: AsyncSession, tenant: Tenant, event: Probe) -> None:
        info = current_delivery(session)
        assert info is not None
        attempts.append(info.attempt)
        if info.attempt == 1:
            raise RuntimeError("once")

    await _publish(state, Probe(merchant_id=1))
    dispatcher = Dispatcher(state.write_factory)
    await dispatcher.run_once()
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(update(EventDelivery).values(available_at=clock.now()))
        await uow.commit()
    await dispatcher.run_once()
    assert attempts == [1, 2]


def test_backoff_grows_and_is_capped() -> None:
    assert outbox.backoff(1) == timedelta(seconds=1)
    assert outbox.backoff(4) == timedelta(seconds=8)
    assert outbox.backoff(50) == timedelta(hours=1)


class Slow(Event):
    topic = "test.slow"
    n: int


@subscribe(Slow, "test.slow")
async def _slow(session: AsyncSession, tenant: Tenant, event: Slow) -> None:
    await session.execute(text("SELECT 1"))  # the transaction has its connection
    await asyncio.sleep(0.01)  # a handler's work


async def test_the_dispatcher_lets_other_writers_in_between_events(state: AppState) -> None:
    """On SQLite every write of a process queues on one connection (ADR 0005): a dispatcher
    going through many events hands it over between them, so another writer (the flash
    sale's order maker, the gate, a periodic job) waits for one event's transaction, not
    for every event that is due."""
    await _publish(state, *(Slow(merchant_id=1, n=n) for n in range(60)))
    dispatcher = Dispatcher(state.write_factory, batch_size=60)
    delivering = asyncio.create_task(dispatcher.run_once())
    await asyncio.sleep(0.05)  # a few events in
    began = time.monotonic()
    async with UnitOfWork(state.write_factory) as uow:
        waited = time.monotonic() - began
        await publish(uow.session, Ping(merchant_id=1, n=99))
        await uow.commit()
    assert not delivering.done()  # got in while the batch was still going
    assert waited < 0.3  # not the batch's 60 × 10 ms
    assert await delivering == 60
