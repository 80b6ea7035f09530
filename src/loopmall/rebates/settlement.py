"""Settling commission per period.

``settle(period_end)`` takes every ledger line booked before ``period_end`` that no
settlement took yet — this period's earnings and claw-backs, and claw-backs of earlier
periods' earnings — and totals them per earner (and store). Settling the same period end
again returns the same settlement; an earlier period end than the last one is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import Conflict, NotFound, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.pagination import paginate_by_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.valueset import one_of
from loopmall.rebates import balances
from loopmall.rebates.events import CommissionSettled
from loopmall.rebates.models import CommissionEntry, Settlement, SettlementLine
from loopmall.rebates.rules import EarnerKind


class SettlementPeriodOpen(ValidationFailed):
    code = "settlement_period_open"
    title = "A period can only be settled once it has ended"


class SettlementOutOfOrder(Conflict):
    code = "settlement_out_of_order"
    title = "A later period has been settled already"


class SettlementInProgress(Conflict):
    code = "settlement_in_progress"
    title = "This period is being settled by another request"


async def settle(
    session: AsyncSession, tenant: Tenant, period_end: datetime, *, actor: str
) -> Settlement:
    """Settle the unsettled ledger lines booked before ``period_end``. Idempotent per
    period end. Raises 422 ``settlement_period_open`` for a period end in the future, 409
    ``settlement_out_of_order`` when a later period was settled, 409
    ``settlement_in_progress`` when another request settles this period right now."""
    if period_end.tzinfo is None:
        raise ValidationFailed("period_end needs a time zone", field="period_end")
    period_end = period_end.astimezone(UTC)
    if period_end > clock.now():
        raise SettlementPeriodOpen(field="period_end")
    existing = await session.scalar(scoped(Settlement, tenant, Settlement.period_end == period_end))
    if existing is not None:
        return existing
    latest = await session.scalar(
        select(func.max(Settlement.period_end)).where(Settlement.merchant_id == tenant.id)
    )
    if latest is not None and latest > period_end:
        raise SettlementOutOfOrder(latest_period_end=latest.isoformat())
    settlement = Settlement(
        merchant_id=tenant.id,
        public_id=new_public_id("cs"),
        period_start=latest,
        period_end=period_end,
        entries=0,
        total_fen=0,
        created_at=clock.now(),
        created_by=actor[:60],
    )
    try:
        async with session.begin_nested():
            session.add(settlement)
            await session.flush()
    except IntegrityError:
        raise SettlementInProgress() from None
    # Stamp first, total second: a line committed meanwhile is either in both or in neither.
    await session.execute(
        update(CommissionEntry)
        .where(
            CommissionEntry.merchant_id == tenant.id,
            CommissionEntry.settlement_id.is_(None),
            CommissionEntry.at < period_end,
        )
        .values(settlement_id=settlement.id)
        .execution_options(synchronize_session=False)
    )
    amount = CommissionEntry.amount_fen
    rows = (
        await session.execute(
            select(
                CommissionEntry.earner_kind,
                CommissionEntry.earner_id,
                CommissionEntry.store_id,
                func.count(),
                func.coalesce(func.sum(case((amount > 0, amount), else_=0)), 0),
                func.coalesce(func.sum(case((amount < 0, amount), else_=0)), 0),
            )
            .where(
                CommissionEntry.merchant_id == tenant.id,
                CommissionEntry.settlement_id == settlement.id,
            )
            .group_by(
                CommissionEntry.earner_kind, CommissionEntry.earner_id, CommissionEntry.store_id
            )
            .order_by(
                CommissionEntry.earner_kind, CommissionEntry.earner_id, CommissionEntry.store_id
            )
        )
    ).all()
    for kind, earner_id, store_id, count, earned, clawed in rows:
        session.add(
            SettlementLine(
                merchant_id=tenant.id,
                settlement_id=settlement.id,
                earner_kind=kind,
                earner_id=earner_id,
                store_id=store_id,
                entries=int(count),
                earned_fen=int(earned),
                clawed_back_fen=int(clawed),
                net_fen=int(earned) + int(clawed),
            )
        )
        settlement.entries += int(count)
        settlement.total_fen += int(earned) + int(clawed)
    await session.flush()
    await balances.settle_lines(
        session, tenant, [(k, i, s, int(c), int(e), int(b)) for k, i, s, c, e, b in rows]
    )
    clawed_back = -sum(int(b) for *_, b in rows)
    await publish(
        session,
        CommissionSettled(
            merchant_id=tenant.id,
            settlement_id=settlement.id,
            settlement_public_id=settlement.public_id,
            period_start=settlement.period_start,
            period_end=settlement.period_end,
            entries=settlement.entries,
            earners=len(rows),
            earned_fen=settlement.total_fen + clawed_back,
            clawed_back_fen=clawed_back,
            total_fen=settlement.total_fen,
        ),
    )
    return settlement


async def list_settlements(
    session: AsyncSession, tenant: Tenant, *, limit: int = 100
) -> list[Settlement]:
    """The merchant's settlements, latest period first."""
    stmt = scoped(Settlement, tenant).order_by(Settlement.period_end.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())


async def find_settlement(session: AsyncSession, tenant: Tenant, public_id: str) -> Settlement:
    """The merchant's settlement of that public id; NotFound otherwise."""
    found = await session.scalar(scoped(Settlement, tenant, Settlement.public_id == public_id))
    if found is None:
        raise NotFound("No such settlement")
    return found


def lines_query(
    tenant: Tenant,
    found: Settlement,
    *,
    store_ids: frozenset[int] | None,
    earner: tuple[EarnerKind, int] | None = None,
) -> Select[SettlementLine]:
    """The settlement's lines (a store role's: its stores'), one earner's when ``earner``
    is given; no order (callers page by id: the lines' index is (settlement, id))."""
    stmt = scoped(SettlementLine, tenant, SettlementLine.settlement_id == found.id)
    if store_ids is not None:
        stmt = stmt.where(one_of(SettlementLine.store_id, store_ids))
    if earner is not None:
        stmt = stmt.where(
            SettlementLine.earner_kind == earner[0].value, SettlementLine.earner_id == earner[1]
        )
    return stmt


async def lines_page(
    session: AsyncSession,
    tenant: Tenant,
    found: Settlement,
    *,
    store_ids: frozenset[int] | None,
    earner: tuple[EarnerKind, int] | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[list[SettlementLine], str | None]:
    """A page of the settlement's lines by cursor (a chain's settlement has a line per
    earner: tens of thousands). Raises 422 for a bad cursor or limit."""
    stmt = lines_query(tenant, found, store_ids=store_ids, earner=earner)
    return await paginate_by_id(session, stmt, SettlementLine.id, cursor=cursor, limit=limit)


async def get_settlement(
    session: AsyncSession, tenant: Tenant, public_id: str, *, store_ids: frozenset[int] | None
) -> tuple[Settlement, list[SettlementLine]]:
    """A settlement and its lines (a store role sees its stores' lines). Raises NotFound."""
    found = await session.scalar(scoped(Settlement, tenant, Settlement.public_id == public_id))
    if found is None:
        raise NotFound("No such settlement")
    stmt = scoped(SettlementLine, tenant, SettlementLine.settlement_id == found.id)
    if store_ids is not None:
        stmt = stmt.where(one_of(SettlementLine.store_id, store_ids))
    lines = list((await session.scalars(stmt.order_by(SettlementLine.id))).all())
    return found, lines
