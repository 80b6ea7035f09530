"""Events end to end: publish → every subscriber done (issue #12 part 6).

For each setup — the embedded default (SQLite, the in-process dispatcher of one
``loopmall worker``), and PostgreSQL + NATS JetStream with 1, 2 and 4 ``loopmall worker``
processes — on a fresh database (and a nats-server of its own, on a free port):

1. **burst**: the load generator (a process of its own) publishes N events, 100 per
   transaction, as fast as it can; events/s = N / (last subscriber done − first publish);
2. **paced**: it publishes M events one per transaction at a steady rate well under
   capacity; lag = when the event's last subscriber finished − when it was published
   (p50/p99).

Every event has three subscribers (two unordered, one ordered per aggregate, 200 aggregates):
an event is done when all three have committed. The workers also run every real subscriber
and periodic job of the app, as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text

from bench.events.world import EFFECTS_DDL, SUBSCRIBERS
from bench.harness import CONSOLE, BenchContext, Row, percentile
from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.models import Merchant

NAME = "events"
ROOT = Path(__file__).resolve().parents[2]
POLL = "0.1"  # the relay's poll; the embedded dispatcher polls as often (cross-process)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def nats_server() -> Iterator[str]:
    """A JetStream server of the benchmark's own (fresh store, free port)."""
    binary = shutil.which("nats-server")
    assert binary is not None
    port = _free_port()
    with tempfile.TemporaryDirectory() as store:
        proc = subprocess.Popen(
            [binary, "-js", "-sd", store, "-a", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port)).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield f"nats://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def _env(db_url: str, broker_url: str, data_dir: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "LOOPMALL_ENV": "dev",
        "LOOPMALL_DATABASE_URL": db_url,
        "LOOPMALL_DATA_DIR": data_dir,
        "LOOPMALL_EVENT_BROKER_URL": broker_url,
        "LOOPMALL_EXTRA_HANDLER_MODULES": "bench.events.world",
        "LOOPMALL_OUTBOX_POLL_SECONDS": POLL,
        "LOOPMALL_EVENT_RELAY_POLL_SECONDS": POLL,
    }


async def _loadgen(db_url: str, events: int, *, batch: int, rate: float, first: int) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.events.loadgen",
        "--db",
        db_url,
        "--events",
        str(events),
        "--batch",
        str(batch),
        "--rate",
        str(rate),
        "--first",
        str(first),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if await proc.wait() != 0:
        raise RuntimeError("the load generator failed")


async def _effects(state: AppState) -> int:
    async with state.read_factory() as session:
        return int(await session.scalar(text("SELECT count(*) FROM bench_event_effects")) or 0)


async def _wait(state: AppState, pairs: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while await _effects(state) < pairs:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def _per_event(state: AppState) -> list[tuple[float, float]]:
    """(published, last subscriber done) per event that all subscribers finished."""
    async with state.read_factory() as session:
        rows = await session.execute(
            text(
                "SELECT min(sent_at), max(done_at) FROM bench_event_effects "
                "GROUP BY event_id HAVING count(*) = :n"
            ),
            {"n": len(SUBSCRIBERS)},
        )
        return [(float(a), float(b)) for a, b in rows]


async def _clear(state: AppState) -> None:
    async with state.engine.begin() as conn:
        await conn.execute(text("DELETE FROM bench_event_effects"))


async def measure(
    state: AppState, label: str, broker_url: str, workers: int, ctx: BenchContext
) -> list[Row]:
    burst = ctx.size(1_000, 20_000)
    paced, rate = ctx.size(150, 3_000), float(ctx.size(30, 100))
    db_url = state.settings.effective_database_url
    async with state.engine.begin() as conn:
        await conn.execute(text(EFFECTS_DDL))
    async with UnitOfWork(state.write_factory) as uow:  # the events' merchant (id 1)
        uow.session.add(
            Merchant(
                public_id=new_public_id("mch"), slug="bench", name="Bench", created_at=clock.now()
            )
        )
        await uow.commit()
    # The machine is shared: the load when the setup started says how much of it we had.
    params = {
        "workers": workers,
        "subscribers": len(SUBSCRIBERS),
        "load": round(os.getloadavg()[0], 1),
    }
    with tempfile.TemporaryDirectory() as data:
        env = _env(db_url, broker_url, data)
        log = (Path(data) / "workers.log").open("wb")
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", "from loopmall.cli import main; main()", "worker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
            )
            for _ in range(workers)
        ]
        try:
            # Warm up: every worker up, consumers made, one event through.
            await _loadgen(db_url, 1, batch=1, rate=0, first=0)
            if not await _wait(state, len(SUBSCRIBERS), 120):
                raise RuntimeError(f"{label}: the workers did not start")
            await asyncio.sleep(1.0)  # the slower workers' consumers join too
            await _clear(state)

            await _loadgen(db_url, burst, batch=100, rate=0, first=1)
            done = await _wait(state, burst * len(SUBSCRIBERS), 300)
            spans = await _per_event(state)
            seconds = max(b for _, b in spans) - min(a for a, _ in spans)
            rows = [
                Row(
                    NAME,
                    label,
                    "burst events/s",
                    len(spans) / seconds,
                    "events/s",
                    {**params, "events": burst, "finished": done},
                ),
            ]
            await _clear(state)

            await _loadgen(db_url, paced, batch=1, rate=rate, first=1 + burst)
            done = await _wait(state, paced * len(SUBSCRIBERS), 120)
            lags = [(b - a) * 1000 for a, b in await _per_event(state)]
            paced_params = {**params, "events": paced, "rate": rate, "finished": done}
            rows += [
                Row(NAME, label, "lag p50", percentile(lags, 50), "ms", paced_params),
                Row(NAME, label, "lag p99", percentile(lags, 99), "ms", paced_params),
            ]
            for row in rows:
                CONSOLE.print(f"  {label} ×{workers}: {row.metric} {row.value:,.1f} {row.unit}")
            return rows
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log.close()


async def run(ctx: BenchContext) -> list[Row]:
    rows: list[Row] = []
    if "sqlite" in ctx.backends:
        async with ctx.fresh_state("sqlite") as state:
            rows += await measure(state, "sqlite embedded", "", 1, ctx)
    if "postgres" in ctx.backends:
        if shutil.which("nats-server") is None:
            CONSOLE.print("[yellow]nats-server not installed: no broker rows[/yellow]")
            return rows
        for workers in (1, 2, 4):
            async with ctx.fresh_state("postgres") as state:
                with nats_server() as url:
                    rows += await measure(state, "postgres+jetstream", url, workers, ctx)
    return rows
