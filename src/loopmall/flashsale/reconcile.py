"""Redis ↔ database for a sale on the Redis gate: load, prove they agree, repair.

The database is the source of truth for what was sold (tickets) and who may buy
(reservations); the stream adds only the accepted requests not yet turned into tickets
("in flight"). From those:

    units left in Redis  = sale stock − units of live tickets − units in flight
    buyers in Redis      = every ticket (lapsed too: a ticket is spent) + every request in flight
    returned in Redis    = the lapsed tickets (their units went back on sale once)

``reconcile`` reports both sides and every disagreement; ``repair`` rewrites Redis from the
database (and the stream, if it survived), then puts back the units of any lapse whose
return never reached Redis. ``load_if_missing`` is the same load, done once under a lock,
when the gate finds a sale Redis does not hold.

The every-minute job runs while sales are live, so it repairs only what is safe beside a
working gate: a sale Redis lost (loaded under the gate's own lock) and lapses whose return
never reached Redis (``return_units`` is idempotent per request). Any other drift is logged,
not overwritten: the two sides are read one after the other, so an attempt accepted between
the reads looks like drift, and a reload would write over units the gate just took.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.jobs import periodic
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale.gate_redis import SaleImage, SaleKeys, ensure_group, load_sale, return_units
from loopmall.flashsale.models import FlashBucket, FlashReservation, FlashSale, FlashTicket
from loopmall.flashsale.repository import get_sale_by_id
from loopmall.merchants.models import Merchant

log = logging.getLogger(__name__)

LOAD_LOCK_SECONDS = 120
RECONCILE_SECONDS = 60.0
STREAM_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class Ticket:
    customer_id: int
    request_id: str
    quantity: int
    status: str


@dataclass(frozen=True, slots=True)
class InFlight:
    request_id: str
    customer_id: int
    quantity: int


@dataclass
class Reconciliation:
    sale_id: int
    stock: int
    loaded: bool
    redis_left: int | None
    redis_buyers: int
    redis_returned: int
    stream_length: int
    pending: int
    in_flight: int
    tickets: dict[str, int]  # status → count
    live_units: int
    lapsed_units: int
    db_remaining: int
    problems: list[str] = field(default_factory=list)
    # What Redis should hold by the database and the stream; the units of lapses whose
    # return never reached Redis.
    expected_left: int = 0
    unreturned_units: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def oversold(self) -> int:
        return max(0, self.live_units - self.stock)


async def _tickets(session: AsyncSession, tenant: Tenant, sale_id: int) -> list[Ticket]:
    rows = await session.execute(
        select(
            FlashTicket.customer_id,
            FlashTicket.request_id,
            FlashTicket.quantity,
            FlashTicket.status,
        ).where(FlashTicket.merchant_id == tenant.id, FlashTicket.sale_id == sale_id)
    )
    return [Ticket(*row) for row in rows]


async def _reserved(session: AsyncSession, tenant: Tenant, sale_id: int) -> list[int]:
    result = await session.stream_scalars(
        select(FlashReservation.customer_id).where(
            FlashReservation.merchant_id == tenant.id, FlashReservation.sale_id == sale_id
        ),
        execution_options={"yield_per": 50_000},
    )
    return [cid async for cid in result]


async def _stream(redis: Any, keys: SaleKeys) -> list[InFlight]:
    """Every request in the sale's stream (acknowledged or not)."""
    found: list[InFlight] = []
    start = "-"
    while True:
        page = await redis.xrange(keys.stream, min=start, count=STREAM_PAGE)
        for entry_id, fields in page:
            found.append(InFlight(fields["r"], int(fields["c"]), int(fields["q"])))
            start = f"({entry_id}"
        if len(page) < STREAM_PAGE:
            return found


async def _flying(redis: Any, keys: SaleKeys, tickets: Sequence[Ticket]) -> list[InFlight]:
    """Requests in the stream with no ticket yet, less those the database refused."""
    known = {t.request_id for t in tickets} | set(await redis.smembers(keys.refused))
    return [r for r in await _stream(redis, keys) if r.request_id not in known]


async def sale_image(
    session: AsyncSession, tenant: Tenant, sale_id: int, redis: Any, prefix: str
) -> SaleImage:
    """What Redis should hold for the sale, from the database and the surviving stream."""
    sale = await get_sale_by_id(session, tenant, sale_id)
    tickets = await _tickets(session, tenant, sale_id)
    flying = await _flying(redis, SaleKeys(prefix, sale_id), tickets)
    live = sum(t.quantity for t in tickets if t.status != "lapsed")
    buyers = {t.customer_id: t.request_id for t in tickets}
    buyers.update({r.customer_id: r.request_id for r in flying})
    return SaleImage(
        sale_id=sale_id,
        stock_left=sale.stock - live - sum(r.quantity for r in flying),
        reserved=await _reserved(session, tenant, sale_id),
        buyers=buyers,
        returned=[t.request_id for t in tickets if t.status == "lapsed"],
    )


async def reconcile(
    session: AsyncSession, tenant: Tenant, sale_id: int, redis: Any, prefix: str
) -> Reconciliation:
    """Both sides' counts for the sale and every way they disagree (``problems``)."""
    sale = await get_sale_by_id(session, tenant, sale_id)
    keys = SaleKeys(prefix, sale_id)
    tickets = await _tickets(session, tenant, sale_id)
    flying = await _flying(redis, keys, tickets)
    pipe = redis.pipeline(transaction=False)
    pipe.get(keys.stock)
    pipe.hlen(keys.buyers)
    pipe.smembers(keys.returned)
    pipe.xlen(keys.stream)
    left_raw, buyers, returned, length = await pipe.execute()
    pending = 0
    if length:
        try:
            pending = int((await redis.xpending(keys.stream, "orders"))["pending"])
        except Exception:  # no group yet
            pending = 0
    counts: dict[str, int] = {}
    for t in tickets:
        counts[t.status] = counts.get(t.status, 0) + 1
    live = sum(t.quantity for t in tickets if t.status != "lapsed")
    lapsed = [t for t in tickets if t.status == "lapsed"]
    db_remaining = int(
        await session.scalar(
            select(func.coalesce(func.sum(FlashBucket.remaining), 0)).where(
                FlashBucket.merchant_id == tenant.id, FlashBucket.sale_id == sale_id
            )
        )
        or 0
    )
    report = Reconciliation(
        sale_id=sale_id,
        stock=sale.stock,
        loaded=left_raw is not None,
        redis_left=int(left_raw) if left_raw is not None else None,
        redis_buyers=int(buyers),
        redis_returned=len(returned),
        stream_length=int(length),
        pending=pending,
        in_flight=len(flying),
        tickets=counts,
        live_units=live,
        lapsed_units=sum(t.quantity for t in lapsed),
        db_remaining=db_remaining,
    )
    problems = report.problems
    expected_left = sale.stock - live - sum(r.quantity for r in flying)
    report.expected_left = expected_left
    if live > sale.stock:
        problems.append(f"oversold: {live} units in live tickets, stock {sale.stock}")
    if not report.loaded:
        problems.append("redis: the sale is not loaded")
    elif report.redis_left != expected_left:
        problems.append(f"redis: {report.redis_left} units left, the database says {expected_left}")
    if report.loaded and report.redis_buyers != len(tickets) + len(flying):
        problems.append(
            f"redis: {report.redis_buyers} buyers, the database"
            f" {len(tickets)} + {len(flying)} in flight"
        )
    if db_remaining != sale.stock - live:
        problems.append(
            f"database: {db_remaining} units in buckets, tickets leave {sale.stock - live}"
        )
    missing = {t.request_id for t in lapsed} - set(returned)
    report.unreturned_units = sum(t.quantity for t in lapsed if t.request_id in missing)
    if report.loaded and missing:
        problems.append(f"redis: {len(missing)} lapsed units never went back on sale")
    return report


def _only_unreturned_lapses(report: Reconciliation) -> bool:
    """Every disagreement is lapses whose units never went back to Redis: putting them back
    makes the two sides agree (Redis holds exactly those units fewer, the buyers agree)."""
    return (
        report.loaded
        and report.unreturned_units > 0
        and report.redis_left == report.expected_left - report.unreturned_units
        and all(p.startswith("redis: ") and "buyers" not in p for p in report.problems)
    )


async def repair(
    session: AsyncSession,
    tenant: Tenant,
    sale_id: int,
    redis: Any,
    prefix: str,
    *,
    reload_on_drift: bool = True,
) -> Reconciliation:
    """Make Redis agree with the database: reload the sale if Redis lost it (or, with
    ``reload_on_drift``, if its counts drifted), and put back the units of lapses whose
    return never reached Redis. Answers the reconciliation after the repair."""
    before = await reconcile(session, tenant, sale_id, redis, prefix)
    if before.ok:
        return before
    keys = SaleKeys(prefix, sale_id)
    if _only_unreturned_lapses(before):
        tickets = await _tickets(session, tenant, sale_id)
        await return_units(
            redis,
            prefix,
            sale_id,
            [(t.request_id, t.quantity) for t in tickets if t.status == "lapsed"],
        )
    elif reload_on_drift:
        await load_sale(redis, prefix, await sale_image(session, tenant, sale_id, redis, prefix))
    elif not before.loaded:
        await _load_under_lock(session, tenant, sale_id, redis, prefix)
    else:
        return before  # drift beside a live gate: reported, not written over
    await ensure_group(redis, keys.stream)
    return await reconcile(session, tenant, sale_id, redis, prefix)


async def load_if_missing(state: Any, tenant: Tenant, sale_id: int) -> bool:
    """Load the sale into Redis from the database unless it is there or another process is
    loading it. Whether this call loaded it."""
    if await state.redis.exists(SaleKeys(state.settings.redis_prefix, sale_id).stock):
        return False
    async with UnitOfWork(state.read_factory) as uow:
        return await _load_under_lock(
            uow.session, tenant, sale_id, state.redis, state.settings.redis_prefix
        )


async def _load_under_lock(
    session: AsyncSession, tenant: Tenant, sale_id: int, redis: Any, prefix: str
) -> bool:
    """Load the sale unless Redis holds it or another process is loading it (the lock the
    gate's first attempt takes too); whether this call loaded it."""
    keys = SaleKeys(prefix, sale_id)
    lock = keys.stock + ":loading"
    if not await redis.set(lock, "1", nx=True, ex=LOAD_LOCK_SECONDS):
        return False
    try:
        if await redis.exists(keys.stock):
            return False
        await load_sale(redis, prefix, await sale_image(session, tenant, sale_id, redis, prefix))
        return True
    finally:
        await redis.delete(lock)


async def redis_sales(session: AsyncSession, *, since: datetime) -> list[tuple[Tenant, int]]:
    """Redis-gate sales that started by now and ended after ``since``: (tenant, sale id)."""
    rows = await session.execute(
        select(FlashSale.id, Merchant.id, Merchant.slug)
        .join(Merchant, Merchant.id == FlashSale.merchant_id)
        .where(
            FlashSale.gate == "redis",
            FlashSale.starts_at <= clock.now(),
            FlashSale.ends_at >= since,
        )
        .order_by(FlashSale.id)
    )
    return [(Tenant(mid, slug), sid) for sid, mid, slug in rows]


async def reconcile_sales(
    state: Any, *, since: datetime, repair_lost: bool, reload_on_drift: bool = False
) -> list[Reconciliation]:
    """Reconcile (and, with ``repair_lost``, repair) every Redis sale since ``since``; each
    report is kept in Redis beside the sale (``last_report``). A sale whose counts drifted
    is reloaded from the database only with ``reload_on_drift`` (the operator's repair)."""
    if state.redis is None:
        return []
    prefix = state.settings.redis_prefix
    reports = []
    async with UnitOfWork(state.read_factory) as uow:
        for tenant, sale_id in await redis_sales(uow.session, since=since):
            if repair_lost:
                report = await repair(
                    uow.session,
                    tenant,
                    sale_id,
                    state.redis,
                    prefix,
                    reload_on_drift=reload_on_drift,
                )
            else:
                report = await reconcile(uow.session, tenant, sale_id, state.redis, prefix)
            await state.redis.set(SaleKeys(prefix, sale_id).report, json.dumps(asdict(report)))
            if not report.ok:
                log.warning(
                    "flash sale %s: Redis and the database disagree: %s", sale_id, report.problems
                )
            reports.append(report)
    return reports


async def last_report(redis: Any, prefix: str, sale_id: int) -> dict[str, Any] | None:
    """The last reconciliation of the sale (the periodic job's or an on-demand one)."""
    raw = await redis.get(SaleKeys(prefix, sale_id).report)
    return json.loads(raw) if raw else None


@periodic("flashsale.reconcile", lambda settings: RECONCILE_SECONDS)
async def reconcile_job(state: Any) -> int:
    """Every minute: the Redis sales of the last day agree with the database, and a sale
    Redis lost is rebuilt from it."""
    return len(
        await reconcile_sales(state, since=clock.now() - timedelta(days=1), repair_lost=True)
    )


async def reconcile_all(settings: Any, *, repair: bool, console: Any) -> bool:
    """``loopmall flashsale-consumer --reconcile [--repair]``: print every Redis sale's
    reconciliation of the last 30 days; whether all agree."""
    from loopmall.core.state import AppState

    state = AppState.build(settings)
    try:
        reports = await reconcile_sales(
            state, since=clock.now() - timedelta(days=30), repair_lost=repair, reload_on_drift=True
        )
    finally:
        await state.close()
    for r in reports:
        verdict = "[green]ok[/green]" if r.ok else "[red]" + "; ".join(r.problems) + "[/red]"
        console.print(
            f"sale {r.sale_id}: stock {r.stock}, left {r.redis_left}, tickets {r.tickets}, "
            f"in flight {r.in_flight}, stream {r.stream_length} ({r.pending} pending): {verdict}"
        )
    return all(r.ok for r in reports)
