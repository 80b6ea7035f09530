"""The SQLite writer handover in the unit of work (ADR 0005, issue #12).

On SQLite every write of the process queues on one pooled connection. A write unit of work
that ends hands that connection to whoever already waits for it, so a loop that commits and
at once begins again (the flash-sale gate's batcher, the order maker, the outbox dispatcher)
goes to the back of the queue instead of taking the connection straight back. Both backends:
on PostgreSQL the writers run side by side and the same bounds hold trivially.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.errors import LoopmallError
from loopmall.core.models import IdempotencyRecord
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale import gate_db
from tests.flashsale.fixtures import make_sale

SCOPE = "test.handover"


@pytest.fixture(autouse=True)
def no_rate_windows(settings: Settings) -> None:
    """Every attempt of the feed reaches the database (no rate limit refuses it first)."""
    settings.flashsale_rate_per_consumer = 0
    settings.flashsale_rate_per_ip = 0


def _record(key: str) -> Any:
    """A small write, like a periodic job's: one row in a global table."""
    return insert(IdempotencyRecord).values(
        scope=SCOPE, key=key, request_hash="0" * 64, status_code=200, created_at=clock.now()
    )


async def _count(state: AppState) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        found = await uow.session.scalar(
            select(func.count()).where(IdempotencyRecord.scope == SCOPE)
        )
    return int(found or 0)


async def test_writers_in_tight_loops_take_turns(state: AppState, backend: str) -> None:
    """N writers each run K write units back to back, every other one left without a commit
    (rolled back on close). Each unit counts, once it holds the connection, how many units
    got the connection between its asking and its getting: first come first served means
    fewer than N. Before the handover the writer that had the connection kept it for all
    its K units while the others waited (the last one ~(N-1)·K turns)."""
    writers, units = 6, 20
    turn = 0
    waited: dict[int, list[int]] = {w: [] for w in range(writers)}

    async def writer(w: int) -> None:
        nonlocal turn
        for k in range(units):
            async with UnitOfWork(state.write_factory) as uow:
                asked = turn
                await uow.session.execute(_record(f"{w}-{k}"))
                # On SQLite this unit now holds the only write connection: ``turn`` counts
                # the units in the order they held it.
                waited[w].append(turn - asked)
                turn += 1
                if k % 2 == 0:
                    await uow.commit()

    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(writer(w) for w in range(writers))), timeout=30)
    elapsed = time.monotonic() - started
    assert all(len(w) == units for w in waited.values())
    assert await _count(state) == writers * units // 2
    if backend == "sqlite":
        worst = max(max(w) for w in waited.values())
        assert worst < writers, (worst, waited, elapsed)


async def test_a_job_writes_while_the_gate_batcher_runs_flat_out(
    state: AppState, backend: str
) -> None:
    """The database gate's batcher, fed faster than it answers, goes from one batch's
    transaction straight into the next. A periodic job's small write, asked for meanwhile,
    gets the connection after at most the batch running when it asked: well under 2 s.
    Before the handover it waited until the pool timed it out (10 s in the tests)."""
    sale = await make_sale(state, units=5, slug="handover")
    batcher = gate_db.Batcher(state.write_factory)
    batches = 0
    answer = batcher._answer

    async def counted(*args: Any) -> None:
        nonlocal batches
        batches += 1
        await answer(*args)

    batcher._answer = counted  # type: ignore[method-assign]
    stop = asyncio.Event()
    outstanding: set[asyncio.Task[None]] = set()

    async def attempt(customer_id: int) -> None:
        # Nobody of these reserved: refused after the batch's reads, inside its write
        # transaction, which holds the write connection like any other batch.
        with contextlib.suppress(LoopmallError):
            await batcher.submit(sale.tenant, sale.id, gate_db.Attempt(customer_id, None))

    async def feed() -> None:
        n = 0
        while not stop.is_set():
            # Keep far more attempts waiting than one batch takes (``Batcher.MAX``), so
            # the batcher's loop always finds a next batch.
            while len(outstanding) < 4 * gate_db.Batcher.MAX:
                n += 1
                task = asyncio.create_task(attempt(10_000_000 + n))
                outstanding.add(task)
                task.add_done_callback(outstanding.discard)
            await asyncio.sleep(0.001)

    feeder = asyncio.create_task(feed())
    try:
        while batches < 3:
            await asyncio.sleep(0.01)
        loop_task = batcher._task
        times = []
        for job in range(3):
            before = batches
            started = time.monotonic()
            try:
                async with asyncio.timeout(2):
                    async with UnitOfWork(state.write_factory) as uow:
                        await uow.session.execute(_record(f"job-{job}"))
                        await uow.commit()
            except TimeoutError:
                pytest.fail(f"job {job} waited over 2 s for the write connection")
            times.append(time.monotonic() - started)
            # The batcher kept going meanwhile: the same loop, more batches.
            while batches == before:
                await asyncio.sleep(0.001)
        assert batcher._task is loop_task and loop_task is not None and not loop_task.done()
    finally:
        stop.set()
        await feeder
        await asyncio.wait_for(asyncio.gather(*list(outstanding)), timeout=30)
    assert max(times) < 2
    assert await _count(state) == 3
