"""The database gate's order maker: accepted tickets become orders in batches.

The gate only writes a ticket; making the order (a hold on the sale's one stock level,
the order rows, events) in the gate's transaction would make that level's row lock the
ceiling again. Instead accepted tickets are ordered ``flashsale_batch`` at a time, by
whoever comes first: the periodic job, or a shopper polling their ticket
(:func:`drain` runs one round per sale per process at a time; :func:`kick`
starts a drain in the background after the gate's commit).

On SQLite the background drains let the database gate go first: every write of the
process takes turns on one connection (ADR 0005), so each round of orders made during the
sale is a batch of attempts that waits. Before each round a background drain waits while
the gate's batcher has attempts to answer, for up to ``GATE_FIRST_SECONDS``, so orders are
still made during a long sale. A shopper polling their ticket does not wait for the gate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork, queues_on_one_writer
from loopmall.flashsale.gate_db import gate_quiet
from loopmall.flashsale.materialize import order_tickets
from loopmall.flashsale.models import FlashSale, FlashTicket
from loopmall.flashsale.repository import get_sale_by_id
from loopmall.flashsale.rules import TicketStatus
from loopmall.merchants.models import Merchant

LOCKS = "flashsale.drain_locks"
AGAIN = "flashsale.drain_again"
TASKS = "flashsale.drain_tasks"
RUNNING = "flashsale.drain_running"
# How long a background drain waits for the database gate before each round at most: with
# attempts arriving all the time the gate is never quiet, and the orders must still come.
GATE_FIRST_SECONDS = 2.0
log = logging.getLogger(__name__)


async def order_pending(session: AsyncSession, tenant: Tenant, sale_id: int, *, limit: int) -> int:
    """Order up to ``limit`` accepted tickets of the sale, oldest first; how many. Tickets
    another transaction is ordering are skipped (PostgreSQL ``SKIP LOCKED``)."""
    sale = await get_sale_by_id(session, tenant, sale_id)
    tickets = list(
        (
            await session.scalars(
                select(FlashTicket)
                .where(
                    FlashTicket.sale_id == sale.id,
                    FlashTicket.status == TicketStatus.ACCEPTED.value,
                )
                .order_by(FlashTicket.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    await order_tickets(session, tenant, sale, tickets)
    return len(tickets)


def _lock(state: AppState, sale_id: int) -> asyncio.Lock:
    locks: dict[int, asyncio.Lock] = state.extras.setdefault(LOCKS, {})
    return locks.setdefault(sale_id, asyncio.Lock())


async def drain(
    state: AppState, tenant: Tenant, sale_id: int, *, max_rounds: int = 100, defer: bool = False
) -> int:
    """Order the sale's accepted tickets until none is left; how many. One round per sale
    per process at a time: a second caller waits for the round running, then looks again.
    With ``defer`` (the background drains), each round on SQLite first lets the gate
    answer the attempts it has (:func:`gate_db.gate_quiet`, at most ``GATE_FIRST_SECONDS``),
    outside the lock, so a shopper's drain meanwhile is not held up; a background drain
    also goes round again when :func:`kick` says tickets came during its round."""
    again: set[int] = state.extras.setdefault(AGAIN, set())
    gate_first = defer and queues_on_one_writer(state.write_factory)
    batch = state.settings.flashsale_batch
    total = 0
    for _ in range(max_rounds):
        if gate_first:
            await gate_quiet(state.write_factory, GATE_FIRST_SECONDS)
        async with _lock(state, sale_id):
            # Inside the lock, right before the round reads the tickets: a ticket whose
            # kick came before this line is committed, so this round sees it.
            again.discard(sale_id)
            async with UnitOfWork(state.write_factory) as uow:
                n = await order_pending(uow.session, tenant, sale_id, limit=batch)
                await uow.commit()
        total += n
        if n < batch and not (defer and sale_id in again):
            break
    return total


def kick(state: AppState, tenant: Tenant, sale_id: int) -> None:
    """Start draining the sale in the background (after the gate's commit): the buyer's
    answer does not wait for the orders. A background drain already running goes round
    once more."""
    running: set[int] = state.extras.setdefault(RUNNING, set())
    if sale_id in running:
        state.extras.setdefault(AGAIN, set()).add(sale_id)
        return
    running.add(sale_id)
    tasks: set[asyncio.Task[int]] = state.extras.setdefault(TASKS, set())
    task = asyncio.get_running_loop().create_task(_background(state, tenant, sale_id, running))
    tasks.add(task)
    task.add_done_callback(_finished(tasks))


async def _background(state: AppState, tenant: Tenant, sale_id: int, running: set[int]) -> int:
    try:
        return await drain(state, tenant, sale_id, defer=True)
    finally:
        # No await between the drain's last look at ``AGAIN`` and this line: a kick
        # either made that drain go round again or starts the next one.
        running.discard(sale_id)


def _finished(tasks: set[asyncio.Task[int]]) -> Callable[[asyncio.Task[int]], None]:
    def done(task: asyncio.Task[int]) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The periodic job picks the tickets up again; say why this drain stopped.
            log.warning("flash-sale drain failed: %r", task.exception())

    return done


async def settle(state: AppState) -> None:
    """Wait for the background drains this process started (tests, shutdown)."""
    tasks: set[asyncio.Task[int]] = state.extras.get(TASKS, set())
    while tasks:
        await asyncio.gather(*list(tasks), return_exceptions=True)


async def sales_with_pending(session: AsyncSession) -> list[tuple[int, Tenant]]:
    """Database-gate sales on now (or ended within a day) with accepted tickets."""
    now = clock.now()
    waiting = (
        select(FlashTicket.id)
        .where(
            FlashTicket.sale_id == FlashSale.id,
            FlashTicket.status == TicketStatus.ACCEPTED.value,
        )
        .exists()
    )
    rows = await session.execute(
        select(FlashSale.id, Merchant.id, Merchant.slug)
        .join(Merchant, Merchant.id == FlashSale.merchant_id)
        .where(
            FlashSale.starts_at <= now,
            FlashSale.ends_at > now - timedelta(days=1),
            waiting,
        )
        .order_by(FlashSale.id)
    )
    return [(sale_id, Tenant(mid, slug)) for sale_id, mid, slug in rows.all()]


async def drain_all(state: AppState) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        sales = await sales_with_pending(uow.session)
    total = 0
    for sale_id, tenant in sales:
        total += await drain(state, tenant, sale_id, defer=True)
    return total
