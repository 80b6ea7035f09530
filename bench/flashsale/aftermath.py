"""After the sale: a sample paid and a sample lapsed; the figures, checked against the
database and Redis."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from bench.flashsale.world import World
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale.models import FlashTicket
from loopmall.orders.models import Order

if TYPE_CHECKING:
    from bench.flashsale.replay import Setup


async def pay_and_lapse(state: AppState, world: World, paid: int, lapsed: int) -> tuple[int, int]:
    """Pay ``paid`` orders through the orders contract (what a payment callback calls) and
    lapse ``lapsed`` others (their pay-within time run out)."""
    from loopmall.flashsale.lapse import return_to_redis
    from loopmall.orders.service import cancel_if_unpaid, mark_paid

    async with UnitOfWork(state.read_factory) as uow:
        rows = (
            await uow.session.execute(
                select(Order.id, Order.total_fen)
                .join(FlashTicket, FlashTicket.order_id == Order.id)
                .where(FlashTicket.sale_id == world.sale_id, FlashTicket.status == "ordered")
                .order_by(Order.id)
            )
        ).all()
    random.Random(3).shuffle(rows)
    lapsed = min(lapsed, len(rows) // 5)  # a small replay still lapses (and resells) some
    to_lapse, to_pay = rows[:lapsed], rows[lapsed : lapsed + paid]
    later = clock.now() + timedelta(days=2)

    async def pay(chunk: list[Any]) -> int:
        n = 0
        for order_id, total in chunk:
            async with UnitOfWork(state.write_factory) as uow:
                result = await mark_paid(
                    uow.session,
                    world.tenant,
                    order_id,
                    amount_fen=total,
                    payment_id=order_id,
                    paid_at=clock.now(),
                )
                await uow.commit()
            n += result.value == "paid" if hasattr(result, "value") else 1
        return n

    async def lapse(chunk: list[Any]) -> int:
        n = 0
        for order_id, _total in chunk:
            async with UnitOfWork(state.write_factory) as uow:
                n += await cancel_if_unpaid(uow.session, world.tenant, order_id, later)
                await uow.commit()
        return n

    lanes = 1 if state.is_sqlite else 8
    paid_n = sum(await asyncio.gather(*(pay(to_pay[i::lanes]) for i in range(lanes))))
    lapsed_n = sum(await asyncio.gather(*(lapse(to_lapse[i::lanes]) for i in range(lanes))))
    await return_to_redis(state, limit=max(1000, lapsed))
    return paid_n, lapsed_n


async def figures_of(
    state: AppState, world: World, setup: Setup, sale: dict[str, Any], wave: dict[str, Any]
) -> dict[str, Any]:
    async with UnitOfWork(state.read_factory) as uow:
        s = uow.session
        tickets = (
            await s.execute(
                select(
                    FlashTicket.customer_id,
                    FlashTicket.request_id,
                    FlashTicket.status,
                    FlashTicket.quantity,
                ).where(FlashTicket.sale_id == world.sale_id)
            )
        ).all()
        dup_rows = await s.scalar(
            select(func.count()).select_from(
                select(FlashTicket.customer_id)
                .where(FlashTicket.sale_id == world.sale_id)
                .group_by(FlashTicket.customer_id)
                .having(func.count() > 1)
                .subquery()
            )
        )
        report = None
        if state.redis is not None:
            from loopmall.flashsale.reconcile import reconcile

            report = await reconcile(
                s, world.tenant, world.sale_id, state.redis, state.settings.redis_prefix
            )
    live = sum(q for _c, _r, st, q in tickets if st != "lapsed")
    known = {r for _c, r, _s, _q in tickets}
    accepted = sale["accepted_requests"] + wave["accepted_requests"]
    return {
        "setup": {k: str(v) if k == "profile" and v else v for k, v in setup.__dict__.items()},
        "label": setup.label,
        "sale": {k: v for k, v in sale.items() if k != "accepted_requests"},
        "wave": {k: v for k, v in wave.items() if k != "accepted_requests"},
        "sold": live,
        "resold": wave["accepted"],
        "oversold": max(0, live - world.stock),
        "undersold": max(0, world.stock - live),
        "duplicate_buyers": int(dup_rows or 0)
        + sale["customers_accepted_twice"]
        + wave["customers_accepted_twice"],
        "lost_accepted": sum(1 for r in accepted if r not in known),
        "statuses": dict(
            (st, sum(1 for t in tickets if t[2] == st)) for st in {t[2] for t in tickets}
        ),
        "reconciled": None if report is None else report.ok,
        "reconcile_problems": [] if report is None else report.problems,
    }
