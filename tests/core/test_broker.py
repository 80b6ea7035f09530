"""Events through NATS JetStream and ``loopmall worker`` processes (issue #12 part 3,
docs/adr/0009-event-broker.md): every (event, subscriber) pair applied exactly once with two
and four workers, an ordered subscriber gets each aggregate's events in order, a worker
killed with -9 mid-stream and a broker restarted mid-stream lose nothing and apply nothing
twice, and the outbox keeps what was published while the broker was down.

Each test starts its own ``nats-server -js -sd <tmp>`` on a free port (so it may stop and
restart it) and real worker processes on the test's PostgreSQL database. Without the
binary the tests skip, unless ``CI=true``: then they fail."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text

from loopmall.config import Settings
from loopmall.core.broker import MSG_ID, JetStream, Layout, handle_message
from loopmall.core.events import Envelope, subscriber
from loopmall.core.outbox import publish
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from tests.core.broker_world import COUNT, EFFECTS_DDL, IN_ORDER, Tick

NATS_BIN = shutil.which("nats-server")
IN_CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parents[2]
ACK_WAIT = 5.0  # a killed worker's messages go to another after this long

on_postgres = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """A JetStream server of the test's own, on a free port, with its store in tmp."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert NATS_BIN is not None
        log = (self.store.parent / "nats.log").open("ab")
        self.proc = subprocess.Popen(
            [NATS_BIN, "-js", "-sd", str(self.store), "-a", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)
        self.proc = None


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    if NATS_BIN is None:
        if IN_CI:
            pytest.fail("CI=true but nats-server is not installed")
        pytest.skip("nats-server is not installed")
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    yield server
    server.stop()


class Workers:
    """``loopmall worker`` processes on the test's database and broker."""

    def __init__(self, db_url: str, broker_url: str, data_dir: Path) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "LOOPMALL_ENV": "test",
            "LOOPMALL_DATABASE_URL": db_url,
            "LOOPMALL_DATA_DIR": str(data_dir),
            "LOOPMALL_EVENT_BROKER_URL": broker_url,
            "LOOPMALL_EVENT_BROKER_ACK_WAIT_SECONDS": str(ACK_WAIT),
            "LOOPMALL_EXTRA_HANDLER_MODULES": "tests.core.broker_world",
            "LOOPMALL_DB_POOL_SIZE": "10",
        }
        self.log = data_dir / "workers.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, n: int = 1) -> None:
        out = self.log.open("ab")
        for _ in range(n):
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", "from loopmall.cli import main; main()", "worker"],
                    cwd=ROOT,
                    env=self.env,
                    stdout=out,
                    stderr=out,
                )
            )

    def kill(self, index: int) -> None:
        self.procs[index].kill()  # SIGKILL: no goodbye, messages in hand are left unacked
        self.procs[index].wait(timeout=15)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def alive(self) -> int:
        return sum(1 for p in self.procs if p.poll() is None)


@pytest.fixture
async def world(db_url: str, tmp_path: Path) -> AsyncIterator[AppState]:
    state = AppState.build(Settings(env="test", database_url=db_url, data_dir=tmp_path / "data"))
    async with state.engine.begin() as conn:
        await conn.execute(text(EFFECTS_DDL))
        await conn.execute(text("DELETE FROM broker_effects"))
    yield state
    # The table is the test's own, not the schema's: left behind, the migration tests that
    # run later in this process find a table no migration made.
    async with state.engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS broker_effects"))
    await state.close()


@pytest.fixture
def workers(db_url: str, nats_server: NatsServer, tmp_path: Path) -> Iterator[Workers]:
    running = Workers(db_url, nats_server.url, tmp_path / "workers")
    yield running
    running.stop_all()


class Stream:
    """Publishes ticks for a few things, ``seq`` counting up per thing."""

    def __init__(self, state: AppState, things: int = 40) -> None:
        self.state = state
        self.things = things
        self.next_seq = dict.fromkeys(range(things), 0)
        self.sent = 0

    async def publish(self, n: int, *, batch: int = 20, pause: float = 0.05) -> None:
        for start in range(0, n, batch):
            events = []
            for i in range(start, min(n, start + batch)):
                thing = (self.sent + i) % self.things
                events.append(Tick(merchant_id=1, thing_id=thing, seq=self.next_seq[thing]))
                self.next_seq[thing] += 1
            async with UnitOfWork(self.state.write_factory) as uow:
                await publish(uow.session, *events)
                await uow.commit()
            await asyncio.sleep(pause)
        self.sent += n


async def _scalar(state: AppState, sql: str) -> int:
    async with state.read_factory() as session:
        return int(await session.scalar(text(sql)) or 0)


async def _effects(state: AppState) -> int:
    return await _scalar(state, "SELECT count(*) FROM broker_effects")


async def _broker_lag(url: str) -> int:
    layout = Layout(ack_wait_seconds=ACK_WAIT)
    subs = [s for s in (subscriber(COUNT), subscriber(IN_ORDER)) if s is not None]
    broker = await JetStream.connect(url, layout, name="broker-test")
    try:
        return sum((await broker.lag(layout.consumers(subs))).values())
    finally:
        await broker.close()


async def _wait_until_done(
    state: AppState, url: str, events: int, workers: Workers, timeout: float = 120
) -> None:
    """Every pair applied, the outbox relayed, no delivery open, the broker's lag zero."""
    deadline = time.monotonic() + timeout
    while True:
        effects = await _effects(state)
        pending = await _scalar(state, "SELECT count(*) FROM outbox_events WHERE status <> 'done'")
        open_ = await _scalar(state, "SELECT count(*) FROM event_deliveries WHERE status <> 'done'")
        if effects >= 2 * events and pending == 0 and open_ == 0:
            with contextlib.suppress(Exception):
                if await _broker_lag(url) == 0:
                    return
        if time.monotonic() > deadline:
            log = workers.log.read_text()[-3000:] if workers.log.exists() else ""
            lag = await _broker_lag(url)
            by_sub = await _scalar(
                state, f"SELECT count(*) FROM broker_effects WHERE subscriber = '{COUNT}'"
            )
            raise AssertionError(
                f"not done: {effects}/{2 * events} effects ({by_sub} by {COUNT}), "
                f"{pending} events unrelayed, {open_} deliveries open, broker lag {lag}, "
                f"{workers.alive()} workers alive\n{log}"
            )
        await asyncio.sleep(0.2)


async def _assert_exactly_once_and_in_order(state: AppState, events: int) -> None:
    async with state.read_factory() as session:
        twice = (
            await session.execute(
                text(
                    "SELECT event_id, subscriber, count(*) FROM broker_effects "
                    "GROUP BY event_id, subscriber HAVING count(*) > 1"
                )
            )
        ).all()
        assert twice == [], f"applied more than once: {twice[:10]}"
        pairs = await session.scalar(
            text("SELECT count(DISTINCT (event_id, subscriber)) FROM broker_effects")
        )
        assert pairs == 2 * events
        outbox = await session.scalar(text("SELECT count(*) FROM outbox_events"))
        assert outbox == events
        done = await session.scalar(
            text("SELECT count(*) FROM event_deliveries WHERE status = 'done'")
        )
        assert done == 2 * events
        # The ordered subscriber saw each thing's ticks in the order they were published.
        rows = (
            await session.execute(
                text("SELECT thing_id, seq FROM broker_effects WHERE subscriber = :s ORDER BY id"),
                {"s": IN_ORDER},
            )
        ).all()
    seen: dict[int, list[int]] = {}
    for thing, seq in rows:
        seen.setdefault(thing, []).append(seq)
    for thing, seqs in seen.items():
        assert seqs == list(range(len(seqs))), f"thing {thing} out of order: {seqs}"


async def _wait_for_effects(state: AppState, at_least: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while await _effects(state) < at_least:
        assert time.monotonic() < deadline, "the workers applied nothing"
        await asyncio.sleep(0.1)


@on_postgres
@pytest.mark.parametrize("n_workers", [2, 4])
async def test_every_pair_applied_once_and_in_order_across_workers(
    world: AppState, workers: Workers, nats_server: NatsServer, n_workers: int
) -> None:
    stream = Stream(world)
    workers.start(n_workers)
    await stream.publish(200)
    await _wait_until_done(world, nats_server.url, 200, workers)
    await _assert_exactly_once_and_in_order(world, 200)
    async with world.read_factory() as session:
        pids = await session.scalar(text("SELECT count(DISTINCT pid) FROM broker_effects"))
    assert pids is not None and pids >= 2  # the work was shared


@on_postgres
async def test_a_worker_killed_mid_stream_loses_nothing_and_repeats_nothing(
    world: AppState, workers: Workers, nats_server: NatsServer
) -> None:
    stream = Stream(world)
    workers.start(3)
    await stream.publish(60)
    killed = workers.procs[0].pid
    # Kill the first worker once it is working (it is most likely the relay's leader too),
    # while events keep coming.
    deadline = time.monotonic() + 60
    while await _scalar(world, f"SELECT count(*) FROM broker_effects WHERE pid = {killed}") == 0:
        assert time.monotonic() < deadline, "the first worker applied nothing"
        await asyncio.sleep(0.05)
    publishing = asyncio.create_task(stream.publish(140, pause=0.02))
    await asyncio.sleep(0.3)
    workers.kill(0)
    await publishing
    await _wait_until_done(world, nats_server.url, 200, workers)
    await _assert_exactly_once_and_in_order(world, 200)
    async with world.read_factory() as session:
        by_killed = await session.scalar(
            text("SELECT count(*) FROM broker_effects WHERE pid = :p"), {"p": killed}
        )
    # The killed worker had been working, and the others finished the stream without it.
    assert by_killed is not None and 0 < by_killed < 400


@on_postgres
async def test_a_broker_restart_mid_stream_and_a_broker_down_at_publish(
    world: AppState, workers: Workers, nats_server: NatsServer
) -> None:
    stream = Stream(world)
    workers.start(2)
    publishing = asyncio.create_task(stream.publish(100, pause=0.02))
    await _wait_for_effects(world, 20)
    nats_server.stop()  # mid-stream
    await publishing
    # Down at publish time: the events are committed and wait in the outbox.
    await stream.publish(50)
    await asyncio.sleep(1.0)
    waiting = await _scalar(world, "SELECT count(*) FROM outbox_events WHERE status = 'pending'")
    assert waiting >= 50
    nats_server.start()
    await _wait_until_done(world, nats_server.url, 150, workers)
    await _assert_exactly_once_and_in_order(world, 150)


# --- one message, in-process: bad input has a defined outcome --------------------------


class FakeMsg:
    def __init__(self, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.data = data
        self.headers = headers
        self.metadata = SimpleNamespace(num_delivered=1)
        self.settled: list[str] = []

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        self.settled.append("nak")

    async def term(self) -> None:
        self.settled.append("term")


async def _one_tick(state: AppState) -> int:
    async with UnitOfWork(state.write_factory) as uow:
        await publish(uow.session, Tick(merchant_id=1, thing_id=7, seq=0))
        await uow.commit()
    return await _scalar(state, "SELECT id FROM outbox_events")


async def test_a_message_is_acked_after_apply_and_a_redelivery_is_a_duplicate(
    db_url: str, tmp_path: Path
) -> None:
    state = AppState.build(Settings(env="test", database_url=db_url, data_dir=tmp_path))
    try:
        if not db_url.startswith("sqlite"):
            async with state.engine.begin() as conn:
                await conn.execute(text(EFFECTS_DDL))
                await conn.execute(text("DELETE FROM broker_effects"))
        else:
            async with state.engine.begin() as conn:
                await conn.execute(
                    text(
                        "CREATE TABLE IF NOT EXISTS broker_effects (id INTEGER PRIMARY KEY, "
                        "event_id INT, subscriber TEXT, thing_id INT, seq INT, pid INT)"
                    )
                )
        sub = subscriber(COUNT)
        assert sub is not None
        event_id = await _one_tick(state)
        data = {"merchant_id": 1, "thing_id": 7, "seq": 0}
        wire = Envelope(event_id, Tick.topic, 1, 1, datetime.now(UTC), data, "thing:7")
        first = FakeMsg(wire.to_json(), {MSG_ID: str(event_id)})
        assert await handle_message(state.write_factory, sub, first) == "applied"
        assert first.settled == ["ack"]
        again = FakeMsg(wire.to_json(), {MSG_ID: str(event_id)})
        assert await handle_message(state.write_factory, sub, again) == "duplicate"
        assert again.settled == ["ack"]
        # A damaged wire copy: the outbox row it names is applied instead.
        other = subscriber(IN_ORDER)
        assert other is not None
        damaged = FakeMsg(b"{not json", {MSG_ID: str(event_id)})
        assert await handle_message(state.write_factory, other, damaged) == "applied"
        assert damaged.settled == ["ack"]
        # A message naming no event of ours is terminated, never redelivered.
        stray = FakeMsg(b"garbage", {MSG_ID: "999999"})
        assert await handle_message(state.write_factory, other, stray) == "terminated"
        assert stray.settled == ["term"]
        # An unknown version is dead at once, recorded, and acknowledged.
        newer = Envelope(event_id, Tick.topic, 99, 1, wire.occurred_at, {}, "thing:7")
        dead_sub: Any = subscriber(COUNT)
        async with UnitOfWork(state.write_factory) as uow:
            await uow.session.execute(text("DELETE FROM event_deliveries"))
            await uow.commit()
        odd = FakeMsg(newer.to_json(), {MSG_ID: str(event_id)})
        assert await handle_message(state.write_factory, dead_sub, odd) == "dead"
        assert odd.settled == ["ack"]
        assert (
            await _scalar(state, "SELECT count(*) FROM event_deliveries WHERE status = 'dead'") == 1
        )
        assert await _scalar(state, "SELECT count(*) FROM broker_effects") == 2
    finally:
        # The test's own table goes with it (see ``world``).
        async with state.engine.begin() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS broker_effects"))
        await state.close()


async def test_a_database_failure_naks_the_message_for_redelivery(tmp_path: Path) -> None:
    # A database that cannot be reached: apply raises, nothing is recorded, the broker resends.
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'nowhere.db'}"
    state = AppState.build(Settings(env="test", database_url=url, data_dir=tmp_path))
    try:
        sub = subscriber(COUNT)
        assert sub is not None
        data = {"merchant_id": 1, "thing_id": 1, "seq": 0}
        wire = Envelope(1, Tick.topic, 1, 1, datetime.now(UTC), data, "thing:1")
        msg = FakeMsg(wire.to_json(), {MSG_ID: "1"})
        assert await handle_message(state.write_factory, sub, msg) == "retry"
        assert msg.settled == ["nak"]
    finally:
        await state.close()


def test_an_aggregate_keeps_its_partition_and_ordered_subscribers_get_one_consumer_each() -> None:
    layout = Layout(partitions=8)
    a = Envelope(1, Tick.topic, 1, 1, datetime.now(UTC), {}, "thing:7")
    b = Envelope(2, Tick.topic, 1, 1, a.occurred_at, {}, "thing:7")
    assert layout.subject(a) == layout.subject(b)
    assert layout.subject(a).startswith("loopmall.ev.") and layout.subject(a).endswith(Tick.topic)
    subs = [s for s in (subscriber(COUNT), subscriber(IN_ORDER)) if s is not None]
    specs = layout.consumers(subs)
    unordered = [s for s in specs if s.subscriber == COUNT]
    ordered = [s for s in specs if s.subscriber == IN_ORDER]
    assert len(unordered) == 1 and unordered[0].filter_subject == f"loopmall.ev.*.{Tick.topic}"
    assert len(ordered) == 8 and all(s.max_ack_pending == 1 for s in ordered)
    assert {s.filter_subject for s in ordered} == {
        f"loopmall.ev.{p}.{Tick.topic}" for p in range(8)
    }
