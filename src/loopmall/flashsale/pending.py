"""The database gate's order maker: accepted tickets become orders in batches.

The gate only writes a ticket; making the order (a hold on the sale's one stock level,
the order rows, events) in the gate's transaction would make that level's row lock the
ceiling again. Instead accepted tickets are ordered ``flashsale_batch`` at a time, by
whoever comes first: the periodic job, or a shopper polling their ticket
(:func:`drain` runs one drain per sale per process at a time; :func:`kick`
starts one in the background after the gate's commit).
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
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale.materialize import order_tickets
from loopmall.flashsale.models import FlashSale, FlashTicket
from loopmall.flashsale.repository import get_sale_by_id
from loopmall.flashsale.rules import TicketStatus
from loopmall.merchants.models import Merchant

LOCKS = "flashsale.drain_locks"
AGAIN = "flashsale.drain_again"
TASKS = "flashsale.drain_tasks"
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


async def drain(state: AppState, tenant: Tenant, sale_id: int, *, max_rounds: int = 100) -> int:
    """Order the sale's accepted tickets until none is left; how many. One drain per sale
    per process at a time: a second caller waits for the first, then looks again."""
    again: set[int] = state.extras.setdefault(AGAIN, set())
    total = 0
    async with _lock(state, sale_id):
        for _ in range(max_rounds):
            again.discard(sale_id)
            async with UnitOfWork(state.write_factory) as uow:
                n = await order_pending(
                    uow.session, tenant, sale_id, limit=state.settings.flashsale_batch
                )
                await uow.commit()
            total += n
            if n < state.settings.flashsale_batch and sale_id not in again:
                break
    return total


def kick(state: AppState, tenant: Tenant, sale_id: int) -> None:
    """Start draining the sale in the background (after the gate's commit): the buyer's
    answer does not wait for the orders. A drain already running goes round once more."""
    if _lock(state, sale_id).locked():
        state.extras.setdefault(AGAIN, set()).add(sale_id)
        return
    tasks: set[asyncio.Task[int]] = state.extras.setdefault(TASKS, set())
    task = asyncio.get_running_loop().create_task(drain(state, tenant, sale_id))
    tasks.add(task)
    task.add_done_callback(_finished(tasks))


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
        total += await drain(state, tenant, sale_id)
    return total
