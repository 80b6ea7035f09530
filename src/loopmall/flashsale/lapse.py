"""Unpaid flash orders lapse; their units go back on sale exactly once.

A flash order is an ordinary unpaid order: whoever cancels it (the sweep here, the
orders' own unpaid sweep, the customer) goes through ``orders.steps.move``, whose
``cancel`` hook below moves the ticket ``ordered → lapsed`` with a conditional UPDATE and,
only if that row moved, puts the units back into a bucket — in the cancel's transaction,
so a unit returns once and only with the cancel. On a Redis sale the units must also go
back into Redis, which is not part of that transaction: :func:`return_to_redis` pushes
every lapsed ticket not yet returned (``gate_redis.return_units`` is idempotent per
request id) and then marks it, so a crash in between only repeats a harmless call.
"""

from __future__ import annotations

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
        .returning(FlashTicket.sale_id, FlashTicket.quantity),
        execution_options=NO_SYNC,
    )
    row = moved.first()
    if row is not None:
        await give_units(session, tenant, row.sale_id, row.quantity)


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
    session: AsyncSession, now: datetime, *, limit: int = 200
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


async def lapse_unpaid(state: AppState, *, now: datetime | None = None) -> int:
    """Cancel every unpaid flash order whose time ran out (one order per transaction, as
    the orders' sweep does), then push the lapsed units of Redis sales back into Redis.
    Returns how many orders lapsed."""
    now = now or clock.now()
    total = 0
    while True:
        async with UnitOfWork(state.read_factory) as uow:
            due = await due_flash_orders(uow.session, now)
        if not due:
            break
        lapsed = 0
        for order_id, tenant in due:
            async with UnitOfWork(state.write_factory) as uow:
                if await cancel_if_unpaid(uow.session, tenant, order_id, now):
                    lapsed += 1
                await uow.commit()
        total += lapsed
        if len(due) < 200 or not lapsed:
            break
    await return_to_redis(state)
    return total


async def return_to_redis(state: AppState, *, limit: int = 1000) -> int:
    """Put the units of lapsed tickets of Redis sales back into Redis; how many tickets.
    Skipped without Redis (the sale is repaired from the database when Redis returns)."""
    if state.redis is None:
        return 0
    from loopmall.flashsale import gate_redis

    async with UnitOfWork(state.read_factory) as uow:
        rows = (
            await uow.session.execute(
                select(
                    FlashTicket.id,
                    FlashTicket.sale_id,
                    FlashTicket.request_id,
                    FlashTicket.quantity,
                )
                .join(FlashSale, FlashSale.id == FlashTicket.sale_id)
                .where(
                    FlashSale.gate == "redis",
                    FlashTicket.status == T.LAPSED.value,
                    FlashTicket.redis_returned_at.is_(None),
                )
                .order_by(FlashTicket.id)
                .limit(limit)
            )
        ).all()
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
