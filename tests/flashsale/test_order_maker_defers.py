"""The order maker lets the database gate go first on SQLite (issue #12, after the writer
handover of ADR 0005).

With the handover every write unit takes turns on SQLite's one write connection, so each
round of orders made during the sale was a batch of shoppers' attempts that waited. A
background drain (``pending.kick``, the periodic job) now waits while the gate's batcher
has attempts to answer — at most ``pending.GATE_FIRST_SECONDS`` per round, so orders are
still made during a long sale; with nothing queued it runs at once. A shopper polling
their ticket (``pending.drain`` without ``defer``) never waits for the gate. On PostgreSQL
the writers run side by side and nothing waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from loopmall.config import Settings
from loopmall.core.errors import LoopmallError
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale import gate_db, pending
from loopmall.flashsale.models import FlashTicket
from loopmall.flashsale.rules import TicketStatus
from tests.flashsale.fixtures import Sale, holders, make_sale

BOUND = 1.5  # seconds: GATE_FIRST_SECONDS for these tests
BUYERS = 4


@pytest.fixture(autouse=True)
def short_bound(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every attempt of the feed reaches the database (no rate limit refuses it first), and
    the bound is short enough for a test."""
    settings.flashsale_rate_per_consumer = 0
    settings.flashsale_rate_per_ip = 0
    monkeypatch.setattr(pending, "GATE_FIRST_SECONDS", BOUND)


async def accepted(state: AppState, sale: Sale) -> int:
    """The sale's tickets still waiting for their order."""
    async with UnitOfWork(state.read_factory) as uow:
        found = await uow.session.scalar(
            select(func.count()).where(
                FlashTicket.sale_id == sale.id,
                FlashTicket.status == TicketStatus.ACCEPTED.value,
            )
        )
    return int(found or 0)


async def bought(state: AppState, slug: str) -> tuple[Sale, gate_db.Batcher]:
    """A sale whose ``BUYERS`` holders each got a ticket through the batcher; no order yet
    (nobody kicked the order maker)."""
    sale = await make_sale(state, units=BUYERS, slug=slug)
    batcher = gate_db.Batcher(state.write_factory)
    for shopper in await holders(state, sale, BUYERS, prefix=f"{slug}买家"):
        answer = await batcher.submit(
            sale.tenant, sale.id, gate_db.Attempt(shopper.customer_id, None)
        )
        assert answer.status == "accepted"
    assert await accepted(state, sale) == BUYERS
    return sale, batcher


@contextlib.asynccontextmanager
async def kept_fed(sale: Sale, batcher: gate_db.Batcher) -> AsyncIterator[None]:
    """The batcher fed faster than it answers, as during a sale: attempts of customers who
    did not reserve (refused inside the batch's write transaction, which holds the write
    connection like any other batch)."""
    stop = asyncio.Event()
    outstanding: set[asyncio.Task[None]] = set()

    async def attempt(customer_id: int) -> None:
        with contextlib.suppress(LoopmallError):
            await batcher.submit(sale.tenant, sale.id, gate_db.Attempt(customer_id, None))

    async def feed() -> None:
        n = 0
        while not stop.is_set():
            while len(outstanding) < 2 * gate_db.Batcher.MAX:
                n += 1
                task = asyncio.create_task(attempt(20_000_000 + n))
                outstanding.add(task)
                task.add_done_callback(outstanding.discard)
            await asyncio.sleep(0.001)

    feeder = asyncio.create_task(feed())
    try:
        while batcher.quiet.is_set():
            await asyncio.sleep(0.001)
        yield
    finally:
        stop.set()
        await feeder
        await asyncio.wait_for(asyncio.gather(*list(outstanding)), timeout=30)


async def made_within(state: AppState, sale: Sale, seconds: float) -> float:
    """Seconds until every ticket of the sale has its order; fails after ``seconds``."""
    started = time.monotonic()
    while await accepted(state, sale):
        if time.monotonic() - started > seconds:
            pytest.fail(f"tickets still waiting for their orders after {seconds} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_the_order_maker_waits_for_a_busy_gate_but_never_beyond_the_bound(
    state: AppState, backend: str
) -> None:
    sale, batcher = await bought(state, "defer")
    async with kept_fed(sale, batcher):
        started = time.monotonic()
        pending.kick(state, sale.tenant, sale.id)
        if backend == "sqlite":
            # The gate has attempts all along: the order maker leaves the connection to it.
            await asyncio.sleep(BOUND / 2)
            assert not batcher.quiet.is_set()
            assert await accepted(state, sale) == BUYERS
        # ... but only for the bound: the orders come while the gate is still busy (the
        # slack is one batch and one round of orders on a loaded machine).
        await made_within(state, sale, BOUND + 5)
        waited = time.monotonic() - started
        assert not batcher.quiet.is_set()
    await pending.settle(state)
    if backend == "sqlite":
        assert waited >= BOUND * 0.9
    else:
        # PostgreSQL writes side by side: nothing to wait for.
        assert waited < BOUND


async def test_with_the_gate_quiet_the_order_maker_runs_at_once(
    state: AppState, backend: str
) -> None:
    sale, batcher = await bought(state, "quiet")
    assert batcher.quiet.is_set()
    pending.kick(state, sale.tenant, sale.id)
    assert await made_within(state, sale, BOUND) < BOUND / 2
    await pending.settle(state)


async def test_a_shopper_polling_their_ticket_does_not_wait_for_the_gate(
    state: AppState, backend: str
) -> None:
    sale, batcher = await bought(state, "poll")
    async with kept_fed(sale, batcher):
        # A background drain is waiting for the gate meanwhile: it does not hold the
        # shopper up either.
        pending.kick(state, sale.tenant, sale.id)
        started = time.monotonic()
        made = await pending.drain(state, sale.tenant, sale.id)
        took = time.monotonic() - started
        assert not batcher.quiet.is_set()
    await pending.settle(state)
    if backend == "sqlite":
        assert made == BUYERS  # the background drain was still waiting
    assert await accepted(state, sale) == 0
    assert took < BOUND
