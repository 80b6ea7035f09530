"""Commission rules per merchant and what an earner has earned.

The contract other domains use: :func:`earnings_for_staff` (the guide workbench) and
:func:`earnings_for_customer` (the mall's "me" page) return an :class:`Earnings`.
The ledger itself is in ``ledger.py``, settlement in ``settlement.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.valueset import one_of
from loopmall.rebates.models import CommissionEntry, CommissionRules
from loopmall.rebates.rules import DistributorPolicy, EarnerKind, Rates, check_rates


def _rates(row: CommissionRules | None) -> Rates:
    if row is None:
        return Rates()
    return Rates(
        store_bp=row.store_bp,
        guide_bp=row.guide_bp,
        level1_bp=row.level1_bp,
        level2_bp=row.level2_bp,
        distributor_cap_fen=row.distributor_cap_fen,
        distributors=DistributorPolicy(row.distributors),
    )


async def get_rules(session: AsyncSession, tenant: Tenant) -> Rates:
    """The merchant's commission rules (all rates 0 until set)."""
    return _rates(await session.scalar(scoped(CommissionRules, tenant)))


async def update_rules(session: AsyncSession, tenant: Tenant, rates: Rates, *, actor: str) -> Rates:
    """Replace the merchant's rules. Raises 422 ``commission_rules_over_100`` (nothing is
    written) when the rates sum over 100 %, 422 ``validation_failed`` for a bad value."""
    check_rates(rates)
    # No check-then-act on the missing row: the first saves of two people at once both
    # insert-or-skip, then update the one row under its lock.
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(CommissionRules)
        .values(merchant_id=tenant.id, updated_at=clock.now(), updated_by=actor[:60])
        .on_conflict_do_nothing()
    )
    row = await session.scalar(scoped(CommissionRules, tenant).with_for_update())
    assert row is not None
    row.store_bp = rates.store_bp
    row.guide_bp = rates.guide_bp
    row.level1_bp = rates.level1_bp
    row.level2_bp = rates.level2_bp
    row.distributor_cap_fen = rates.distributor_cap_fen
    row.distributors = rates.distributors.value
    row.updated_at = clock.now()
    row.updated_by = actor[:60]
    await session.flush()
    return _rates(row)


@dataclass(frozen=True, slots=True)
class Earnings:
    """One earner's commission: booked, given back on refunds, and how much of the net
    is in a settlement already (``pending_fen`` is the rest)."""

    earner_kind: str
    earner_id: int
    earned_fen: int = 0
    clawed_back_fen: int = 0  # given back, as a positive amount
    net_fen: int = 0
    settled_fen: int = 0
    pending_fen: int = 0
    orders: int = 0


async def earnings_of(
    session: AsyncSession, tenant: Tenant, earner_kind: EarnerKind, earner_id: int
) -> Earnings:
    """The totals of one earner's ledger lines (one query)."""
    amount = CommissionEntry.amount_fen
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((amount > 0, amount), else_=0)), 0),
                func.coalesce(func.sum(case((amount < 0, -amount), else_=0)), 0),
                func.coalesce(
                    func.sum(case((CommissionEntry.settlement_id.is_not(None), amount), else_=0)),
                    0,
                ),
                func.count(func.distinct(CommissionEntry.order_id)),
            ).where(
                CommissionEntry.merchant_id == tenant.id,
                CommissionEntry.earner_kind == earner_kind.value,
                CommissionEntry.earner_id == earner_id,
            )
        )
    ).one()
    earned, clawed, settled, orders = (int(v or 0) for v in row)
    net = earned - clawed
    return Earnings(
        earner_kind=earner_kind.value,
        earner_id=earner_id,
        earned_fen=earned,
        clawed_back_fen=clawed,
        net_fen=net,
        settled_fen=settled,
        pending_fen=net - settled,
        orders=orders,
    )


async def earnings_for_staff(session: AsyncSession, tenant: Tenant, staff_id: int) -> Earnings:
    """A guide's commission (role ``guide`` credits) across every store."""
    return await earnings_of(session, tenant, EarnerKind.STAFF, staff_id)


async def earnings_for_customer(
    session: AsyncSession, tenant: Tenant, customer_id: int
) -> Earnings:
    """A distributor's commission (``sharer`` and ``upstream_sharer`` credits)."""
    return await earnings_of(session, tenant, EarnerKind.CUSTOMER, customer_id)


async def earned_on_credits(
    session: AsyncSession, tenant: Tenant, customer_id: int, credit_ids: Sequence[int]
) -> dict[int, int]:
    """Credit id → what the customer keeps of it (earning less claw-backs), in fen, for
    the credits among ``credit_ids`` that earned them anything."""
    if not credit_ids:
        return {}
    mine = (
        CommissionEntry.merchant_id == tenant.id,
        CommissionEntry.earner_kind == EarnerKind.CUSTOMER.value,
        CommissionEntry.earner_id == customer_id,
    )
    found = await session.execute(
        select(CommissionEntry.id, CommissionEntry.credit_id).where(
            *mine,
            CommissionEntry.kind == "earning",
            one_of(CommissionEntry.credit_id, sorted(set(credit_ids))),
        )
    )
    earnings = {int(e): int(c) for e, c in found.all() if c is not None}
    if not earnings:
        return {}
    kept: dict[int, int] = {}
    rows = await session.execute(
        select(CommissionEntry.id, CommissionEntry.earning_id, CommissionEntry.amount_fen).where(
            *mine,
            one_of(CommissionEntry.id, list(earnings))
            | one_of(CommissionEntry.earning_id, list(earnings)),
        )
    )
    for entry_id, earning_id, amount in rows.all():
        credit = earnings[earning_id if earning_id is not None else entry_id]
        kept[credit] = kept.get(credit, 0) + int(amount)
    return kept
