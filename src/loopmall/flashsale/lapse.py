"""Unpaid flash orders lapse; their units go back on sale exactly once.

A flash order is an ordinary unpaid order: whoever cancels it (the sweep here, the
orders' own unpaid sweep, the customer) goes through ``orders.steps.move``, whose
``cancel`` hook below moves the ticket ``ordered → lapsed`` with a conditional UPDATE and,
only if that row moved, puts the units back into a bucket — in the cancel's transaction,
so a unit returns once and only with the cancel. On a Redis sale the units must also go
back into Redis, which is not part of that transaction: :func:`return_to_redis` pushes
every lapsed ticket not yet returned (``gate_redis.return_units`` is idempotent per
request id) and then marks it, so a crash in between only repeats a harmless call.

The sweep pushes each batch's lapsed units into Redis as soon as the batch's cancels have
committed, so the gate sells them again while the rest of the due orders are still being
cancelled (7,407 lapses at once used to wait for the whole sweep: a unit came back 45-136 s
after its ticket lapsed; issue #21). A crash between a batch's commits and its push leaves
``redis_returned_at`` empty: the next sweep (or the every-minute reconcile) pushes it, and
the push is idempotent per request id, so nothing comes back twice.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale.buckets import give_units
from loopmall.flashsale.models import FlashSale, FlashTicket
from loopmall.flashsale.rules import TICKETS, TicketStatus
from loopmall.merchants.models import Merchant
from loopmall.orders import hooks
from loopmall.orders.models import Order
from loopmall.orders.rules import OrderStatus
from loopmall.orders.service import cancel_if_unpaid

T = TicketStatus
NO_SYNC = {"synchronize_session": False}
# The tickets a session's cancels lapsed (ids), read by the sweep after the commit.
LAPSED_KEY = "flashsale.lapsed_tickets"
# Due orders looked up at once; a push to Redis after this many cancels, or sooner once the
# batch's first cancel committed this long ago. Each cancel stays its own transaction
# (orders.service.cancel_if_unpaid: one order's stock locks held while waiting for another
# order's row is how a sweep and a payment deadlock), so a batch is a run of commits and
# then one push. A cancel is 8 statements, 5-50 ms on PostgreSQL by the machine's load: the
# time bound, not the count, keeps a unit's way back short (bench/flashsale/lapse.py).
DUE_PAGE = 200
RETURN_EVERY = 50
RETURN_WITHIN_SECONDS = 0.25
# Cancels running at once on PostgreSQL (each its own transaction and connection; SQLite has
# one writer). What they share is the sale's bucket row, held only from the bucket's update to
# the commit.
CONCURRENT_CANCELS = 4


@hooks.after("cancel")
async def ticket_lapses(session: AsyncSession, tenant: Tenant, order: Order) -> None:
    """A cancelled flash order: its ticket lapses and its units go back on sale, once."""
    now = clock.now()
    moved = await session.execute(
        update(FlashTicket)
        .where(
            FlashTicket.merchant_id == tenant.id,
            FlashTicket.order_id == order.id,
            FlashTicket.status.in_(TICKETS.sources_of(T.LAPSED)),
        )
        .values(status=T.LAPSED.value, updated_at=now)
        .returning(FlashTicket.id, FlashTicket.sale_id, FlashTicket.quantity),
        execution_options=NO_SYNC,
    )
    row = moved.first()
    if row is not None:
        await give_units(session, tenant, row.sale_id, row.quantity)
        session.info.setdefault(LAPSED_KEY, []).append(row.id)


@hooks.after("pay")
async def ticket_paid(session: AsyncSession, tenant: Tenant, order: Order) -> None:
    await session.execute(
        update(FlashTicket)
        .where(
            FlashTicket.merchant_id == tenant.id,
            FlashTicket.order_id == order.id,
            FlashTicket.status.in_(TICKETS.sources_of(T.PAID)),
        )
        .values(status=T.PAID.value, updated_at=clock.now()),
        execution_options=NO_SYNC,
    )


async def due_flash_orders(
    session: AsyncSession, now: datetime, *, limit: int = DUE_PAGE
) -> list[tuple[int, Tenant]]:
    """Unpaid flash orders whose pay-within time ran out: (order id, tenant)."""
    rows = await session.execute(
        select(Order.id, Merchant.id, Merchant.slug)
        .join(FlashTicket, FlashTicket.order_id == Order.id)
        .join(Merchant, Merchant.id == Order.merchant_id)
        .where(
            FlashTicket.status == T.ORDERED.value,
            Order.status == OrderStatus.CREATED.value,
            Order.expires_at <= now,
        )
        .order_by(Order.id)
        .limit(limit)
    )
    return [(order_id, Tenant(mid, slug)) for order_id, mid, slug in rows.all()]


async def lapse_unpaid(
    state: AppState,
    *,
    now: datetime | None = None,
    return_every: int = RETURN_EVERY,
    concurrency: int | None = None,
) -> int:
    """Cancel every unpaid flash order whose time ran out (one order per transaction, as
    the orders' sweep does); after every ``return_every`` cancels (or sooner, by
    ``RETURN_WITHIN_SECONDS``), push the units they lapsed on Redis sales back into Redis.
    Then push any lapse still not returned (made by another cancel, or left by a crash).
    ``concurrency`` cancels run at once (``CONCURRENT_CANCELS`` on PostgreSQL, 1 on SQLite).
    Returns how many orders lapsed."""
    now = now or clock.now()
    if concurrency is None:
        concurrency = 1 if state.is_sqlite else CONCURRENT_CANCELS
    total = 0
    while True:
        async with UnitOfWork(state.read_factory) as uow:
            due = await due_flash_orders(uow.session, now)
        left = list(reversed(due))
        lapsed = sum(
            await asyncio.gather(
                *(_lapse_from(state, left, now, return_every) for _ in range(concurrency))
            )
        )
        total += lapsed
        if len(due) < DUE_PAGE or not lapsed:
            break
    await return_to_redis(state)
    return total


async def _lapse_from(
    state: AppState, left: list[tuple[int, Tenant]], now: datetime, return_every: int
) -> int:
    """Take due orders from ``left`` (shared with the other cancellers of the sweep) batch
    by batch, pushing each batch's units to Redis; how many lapsed."""
    lapsed = 0
    while left:
        ticket_ids = await _cancel_batch(state, left, now, return_every)
        lapsed += len(ticket_ids)
        await return_to_redis(state, ticket_ids=ticket_ids)
    return lapsed


async def _cancel_batch(
    state: AppState, left: list[tuple[int, Tenant]], now: datetime, most: int
) -> list[int]:
    """Cancel due orders taken from the end of ``left``, each in its own transaction, until
    ``most`` were taken or the first lapse committed ``RETURN_WITHIN_SECONDS`` ago; the ids
    of the tickets that lapsed."""
    lapsed: list[int] = []
    first_at: float | None = None
    taken = 0
    while left and taken < most:
        if first_at is not None and time.monotonic() - first_at >= RETURN_WITHIN_SECONDS:
            break
        order_id, tenant = left.pop()
        taken += 1
        async with UnitOfWork(state.write_factory) as uow:
            await cancel_if_unpaid(uow.session, tenant, order_id, now)
            await uow.commit()
            lapsed += uow.session.info.pop(LAPSED_KEY, [])
        if lapsed and first_at is None:
            first_at = time.monotonic()
    return lapsed


async def return_to_redis(
    state: AppState, *, limit: int = 1000, ticket_ids: list[int] | None = None
) -> int:
    """Put the units of lapsed tickets of Redis sales back into Redis (only ``ticket_ids``
    when given); how many tickets. Skipped without Redis (the sale is repaired from the
    database when Redis returns)."""
    if state.redis is None or ticket_ids == []:
        return 0
    from loopmall.flashsale import gate_redis

    query = (
        select(FlashTicket.id, FlashTicket.sale_id, FlashTicket.request_id, FlashTicket.quantity)
        .join(FlashSale, FlashSale.id == FlashTicket.sale_id)
        .where(
            FlashSale.gate == "redis",
            FlashTicket.status == T.LAPSED.value,
            FlashTicket.redis_returned_at.is_(None),
        )
        .order_by(FlashTicket.id)
        .limit(limit)
    )
    if ticket_ids is not None:
        query = query.where(FlashTicket.id.in_(ticket_ids))
    async with UnitOfWork(state.read_factory) as uow:
        rows = (await uow.session.execute(query)).all()
    by_sale: dict[int, list[tuple[int, str, int]]] = {}
    for ticket_id, sale_id, request_id, quantity in rows:
        by_sale.setdefault(sale_id, []).append((ticket_id, request_id, quantity))
    done = 0
    for sale_id, tickets in by_sale.items():
        await gate_redis.return_units(
            state.redis,
            state.settings.redis_prefix,
            sale_id,
            [(rid, quantity) for _, rid, quantity in tickets],
        )
        async with UnitOfWork(state.write_factory) as uow:
            await uow.session.execute(
                update(FlashTicket)
                .where(FlashTicket.id.in_([t[0] for t in tickets]))
                .values(redis_returned_at=clock.now()),
                execution_options=NO_SYNC,
            )
            await uow.commit()
        done += len(tickets)
    return done
