"""The database gate's order maker: accepted tickets become orders in batches.

The gate only writes a ticket; making the order (a hold on the sale's one stock level,
the order rows, events) in the gate's transaction would make that level's row lock the
ceiling again. Instead accepted tickets are ordered ``flashsale_batch`` at a time, by
whoever comes first: the periodic job, or a shopper polling their ticket
(:func:`drain` runs one drain per sale per process at a time).
"""

from __future__ import annotations

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

DRAINING = "flashsale.draining"
AGAIN = "flashsale.drain_again"


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


async def drain(state: AppState, tenant: Tenant, sale_id: int, *, max_rounds: int = 100) -> int:
    """Order the sale's accepted tickets until none is left; how many. If this process is
    already draining the sale, that drain goes round once more instead."""
    running: set[int] = state.extras.setdefault(DRAINING, set())
    again: set[int] = state.extras.setdefault(AGAIN, set())
    if sale_id in running:
        again.add(sale_id)
        return 0
    running.add(sale_id)
    total = 0
    try:
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
    finally:
        running.discard(sale_id)
    return total


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
