"""The commission ledger: earnings from attribution's credits, claw-backs from refunds.

Earnings are booked when attribution credits an order and count at once; they are not
held back until the order can no longer be refunded, because an order here never stops
being refundable (a completed order may still be refunded, with no deadline), so waiting
would mean never paying. Instead a refund after a settlement books a negative claw-back
that the next settlement takes — the earner's next period is smaller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution.events import AttributionCredited, CreditedShare
from loopmall.attribution.rules import Role
from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.valueset import one_of
from loopmall.orders import service as orders
from loopmall.rebates import balances, distributors
from loopmall.rebates.events import CommissionClawedBack, CommissionEarned
from loopmall.rebates.models import CommissionBalance, CommissionEntry
from loopmall.rebates.rules import (
    EarnerKind,
    clawback_due,
    commission_for,
    is_distributor_role,
)
from loopmall.rebates.service import get_rules


def _earner(credit: CreditedShare) -> tuple[EarnerKind, int] | None:
    """Who a credit pays: the store, the guide, or the sharing customer."""
    role = credit.role
    if role == Role.STORE and credit.store_id:
        return EarnerKind.STORE, credit.store_id
    if role == Role.GUIDE and credit.guide_staff_id:
        return EarnerKind.STAFF, credit.guide_staff_id
    if role in (Role.SHARER, Role.UPSTREAM_SHARER) and credit.sharer_customer_id:
        return EarnerKind.CUSTOMER, credit.sharer_customer_id
    return None


async def book_credits(
    session: AsyncSession, tenant: Tenant, event: AttributionCredited
) -> list[CommissionEntry]:
    """Book one earning per credit of an ``attribution.credited`` event whose role has a
    rate and whose earner may earn; a credit booked before is skipped (its id is unique).
    A distributor earns nothing on their own purchase. If the order was refunded before the
    credit arrived, the claw-back is booked at once."""
    order_id = event.order_id
    amount_fen = event.amount_fen
    buyer = event.customer_id
    credits = list(event.credits)
    if not credits or amount_fen <= 0:
        return []
    seen = set(
        (
            await session.scalars(
                select(CommissionEntry.credit_id).where(
                    CommissionEntry.merchant_id == tenant.id,
                    CommissionEntry.credit_id.in_([c.credit_id for c in credits]),
                )
            )
        ).all()
    )
    rates = await get_rules(session, tenant)
    sharers = {
        c.sharer_customer_id
        for c in credits
        if is_distributor_role(c.role) and c.sharer_customer_id
    }
    may_earn = await distributors.who_may_earn(session, tenant, rates, sharers)
    now = clock.now()
    booked: list[CommissionEntry] = []
    for credit in credits:
        role = credit.role
        rate = rates.rate_for(role)
        earner = _earner(credit)
        if credit.credit_id in seen or rate == 0 or earner is None:
            continue
        cap = None
        if is_distributor_role(role):
            if earner[1] not in may_earn or earner[1] == buyer:
                continue
            cap = rates.distributor_cap_fen
        amount = commission_for(amount_fen, rate, cap)
        if amount <= 0:
            continue
        entry = CommissionEntry(
            merchant_id=tenant.id,
            public_id=new_public_id("ce"),
            kind="earning",
            credit_id=credit.credit_id,
            order_id=order_id,
            role=role,
            rule=credit.rule[:40],
            earner_kind=earner[0].value,
            earner_id=earner[1],
            store_id=credit.store_id,
            base_fen=amount_fen,
            rate_bp=rate,
            amount_fen=amount,
            at=now,
        )
        session.add(entry)
        booked.append(entry)
    await session.flush()
    if booked:
        order = await orders.get_order(session, tenant, event.order_public_id)
        clawed: list[CommissionEntry] = []
        if order.refunded_fen > 0:
            clawed = await _book_clawbacks(
                session,
                tenant,
                order_id,
                paid_fen=order.paid_fen,
                refunded_fen=order.refunded_fen,
            )
        # Last, after every ledger row this booking locks: balances, then the totals.
        await balances.add_entries(session, tenant, [*booked, *clawed])
        await _announce(session, tenant, event.order_public_id, [*booked, *clawed])
    return booked


async def claw_back(
    session: AsyncSession, tenant: Tenant, order_id: int, *, paid_fen: int, refunded_fen: int
) -> list[CommissionEntry]:
    """Give back what the order's earnings owe now that ``refunded_fen`` of ``paid_fen``
    has been refunded in total (``rules.clawback_due``); books only the difference to what
    was given back before, so a replayed or late refund event books nothing. The earners'
    balances and the merchant's totals move in the same transaction."""
    booked = await _book_clawbacks(
        session, tenant, order_id, paid_fen=paid_fen, refunded_fen=refunded_fen
    )
    await balances.add_entries(session, tenant, booked)
    if booked:
        order = await orders.get_payable(session, tenant, order_id)
        await _announce(session, tenant, order.public_id, booked)
    return booked


async def _announce(
    session: AsyncSession, tenant: Tenant, order_public_id: str, entries: list[CommissionEntry]
) -> None:
    """``commission.earned`` / ``commission.clawed_back``, one per ledger line, in the
    transaction that books them."""
    events: list[CommissionEarned | CommissionClawedBack] = []
    for entry in entries:
        common = {
            "merchant_id": tenant.id,
            "entry_id": entry.id,
            "entry_public_id": entry.public_id,
            "order_id": entry.order_id,
            "order_public_id": order_public_id,
            "earner_kind": entry.earner_kind,
            "earner_id": entry.earner_id,
            "store_id": entry.store_id,
            "role": entry.role,
            "rate_bp": entry.rate_bp,
        }
        if entry.kind == "earning":
            events.append(
                CommissionEarned.model_validate(
                    common | {"base_fen": entry.base_fen, "amount_fen": entry.amount_fen}
                )
            )
            continue
        # The earning was locked and loaded by the claw-back: no statement here.
        earning = await session.get(CommissionEntry, entry.earning_id)
        assert earning is not None
        events.append(
            CommissionClawedBack.model_validate(
                common
                | {
                    "earning_public_id": earning.public_id,
                    "refunded_fen": entry.base_fen,  # a claw-back's base is the refunds so far
                    "amount_fen": -entry.amount_fen,
                }
            )
        )
    await publish(session, *events)


async def _book_clawbacks(
    session: AsyncSession, tenant: Tenant, order_id: int, *, paid_fen: int, refunded_fen: int
) -> list[CommissionEntry]:
    earnings = list(
        (
            await session.scalars(
                scoped(
                    CommissionEntry,
                    tenant,
                    CommissionEntry.order_id == order_id,
                    CommissionEntry.kind == "earning",
                )
                .order_by(CommissionEntry.id)
                .with_for_update()
            )
        ).all()
    )
    if not earnings:
        return []
    given = await _given_back(session, tenant, [e.id for e in earnings])
    now = clock.now()
    booked = []
    for earning in earnings:
        due = clawback_due(earning.amount_fen, paid_fen, refunded_fen)
        delta = due - given.get(earning.id, 0)
        if delta <= 0:
            continue
        entry = CommissionEntry(
            merchant_id=tenant.id,
            public_id=new_public_id("ce"),
            kind="clawback",
            credit_id=None,
            earning_id=earning.id,
            order_id=order_id,
            role=earning.role,
            rule="refund",
            earner_kind=earning.earner_kind,
            earner_id=earning.earner_id,
            store_id=earning.store_id,
            base_fen=refunded_fen,
            rate_bp=earning.rate_bp,
            amount_fen=-delta,
            at=now,
        )
        session.add(entry)
        booked.append(entry)
    await session.flush()
    return booked


async def _given_back(
    session: AsyncSession, tenant: Tenant, earning_ids: Iterable[int]
) -> dict[int, int]:
    rows = await session.execute(
        select(CommissionEntry.earning_id, func.sum(-CommissionEntry.amount_fen))
        .where(
            CommissionEntry.merchant_id == tenant.id,
            CommissionEntry.earning_id.in_(list(earning_ids)),
        )
        .group_by(CommissionEntry.earning_id)
    )
    return {int(i): int(s) for i, s in rows.all() if i is not None}


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """What the console and the API filter the ledger by (None: any)."""

    role: str | None = None
    kind: str | None = None
    earner_kind: EarnerKind | None = None
    earner_id: int | None = None
    store_id: int | None = None
    settled: bool | None = None
    settlement_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    store_ids: frozenset[int] | None = None  # a store role's stores


def entries_query(tenant: Tenant, f: EntryFilter) -> Select[Any]:
    """The ledger lines matching ``f`` (no order: callers page by id)."""
    stmt = scoped(CommissionEntry, tenant)
    if f.role:
        stmt = stmt.where(CommissionEntry.role == f.role)
    if f.kind:
        stmt = stmt.where(CommissionEntry.kind == f.kind)
    if f.earner_kind is not None:
        stmt = stmt.where(CommissionEntry.earner_kind == f.earner_kind.value)
    if f.earner_id is not None:
        stmt = stmt.where(CommissionEntry.earner_id == f.earner_id)
    if f.store_id is not None:
        stmt = stmt.where(CommissionEntry.store_id == f.store_id)
    if f.store_ids is not None:
        stmt = stmt.where(one_of(CommissionEntry.store_id, f.store_ids))
    if f.settled is not None:
        column = CommissionEntry.settlement_id
        stmt = stmt.where(column.is_not(None) if f.settled else column.is_(None))
    if f.settlement_id is not None:
        stmt = stmt.where(CommissionEntry.settlement_id == f.settlement_id)
    if f.since is not None:
        stmt = stmt.where(CommissionEntry.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(CommissionEntry.at < f.until)
    return stmt


def _kept_sums_answer(f: EntryFilter) -> bool:
    """Whether the running balances answer ``f``'s totals: filters by earner, store and
    settled or not only (role, kind, dates and a settlement need the lines)."""
    return (
        f.role is None
        and f.kind is None
        and f.settlement_id is None
        and f.since is None
        and f.until is None
    )


async def totals(session: AsyncSession, tenant: Tenant, f: EntryFilter) -> dict[str, int]:
    """Earned, given back, net and the number of lines matching ``f``: from the running
    balances when they answer ``f`` (one indexed read, whatever the ledger's size), else
    summed over the matching lines."""
    if _kept_sums_answer(f):
        where = []
        if f.earner_kind is not None:
            where.append(CommissionBalance.earner_kind == f.earner_kind.value)
        if f.earner_id is not None:
            where.append(CommissionBalance.earner_id == f.earner_id)
        if f.store_id is not None:
            where.append(CommissionBalance.store_id == f.store_id)
        if f.store_ids is not None:
            where.append(one_of(CommissionBalance.store_id, f.store_ids))
        if where:
            kept = await balances.sum_balances(session, tenant, *where)
        else:
            kept = await balances.merchant_totals(session, tenant)
        if f.settled is None:
            earned, clawed, count = kept.earned_fen, kept.clawed_back_fen, kept.entries
        elif f.settled:
            earned = kept.earned_fen - kept.unsettled_earned_fen
            clawed = kept.clawed_back_fen - kept.unsettled_clawed_back_fen
            count = kept.entries - kept.unsettled_entries
        else:
            earned, clawed = kept.unsettled_earned_fen, kept.unsettled_clawed_back_fen
            count = kept.unsettled_entries
        return {
            "earned_fen": earned,
            "clawed_back_fen": clawed,
            "net_fen": earned - clawed,
            "entries": count,
        }
    sub = entries_query(tenant, f).subquery()
    amount = sub.c.amount_fen
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((amount > 0, amount), else_=0)), 0),
                func.coalesce(func.sum(case((amount < 0, -amount), else_=0)), 0),
                func.count(),
            )
        )
    ).one()
    earned, clawed, count = (int(v or 0) for v in row)
    return {
        "earned_fen": earned,
        "clawed_back_fen": clawed,
        "net_fen": earned - clawed,
        "entries": count,
    }


async def unsettled_by_earner(
    session: AsyncSession,
    tenant: Tenant,
    *,
    store_ids: frozenset[int] | None = None,
    limit: int | None = None,
) -> list[tuple[str, int, int | None, int, int]]:
    """What the next settlement would pay: (earner kind, earner id, store id, lines, net)
    of the lines no settlement took yet, largest net first (the first ``limit`` of them: a
    chain has an earner per guide and distributor). Read from the running balances by the
    index on the unsettled net, not grouped from the ledger."""
    b = CommissionBalance
    stmt = (
        select(b.earner_kind, b.earner_id, b.store_id, b.unsettled_entries, b.unsettled_fen)
        .where(b.merchant_id == tenant.id, b.unsettled_entries > 0)
        .order_by(b.unsettled_fen.desc(), b.earner_kind, b.earner_id, b.store_key)
    )
    if store_ids is not None:
        stmt = stmt.where(one_of(b.store_id, store_ids))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(k, int(i), s, int(c), int(n)) for k, i, s, c, n in (await session.execute(stmt)).all()]


async def entries_of_order(
    session: AsyncSession,
    tenant: Tenant,
    order_public_id: str,
    *,
    store_ids: frozenset[int] | None = None,
) -> list[CommissionEntry]:
    """Every ledger line of one order, in booking order; ``store_ids`` (a store role's
    stores): only the lines naming those stores. Raises NotFound for an unknown order, and
    alike for an order a store role can not see — neither its store's nor crediting one of
    its stores — so an answer never tells that another store's order id exists (#11)."""
    order = await orders.get_order(session, tenant, order_public_id)
    stmt = scoped(CommissionEntry, tenant, CommissionEntry.order_id == order.id)
    if store_ids is not None:
        stmt = stmt.where(one_of(CommissionEntry.store_id, store_ids))
    rows = list((await session.scalars(stmt.order_by(CommissionEntry.id))).all())
    if store_ids is not None and not rows and order.store_id not in store_ids:
        raise NotFound("No such order")
    return rows
