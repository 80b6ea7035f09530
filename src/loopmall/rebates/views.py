"""Ledger lines and settlement lines as the API, the pages and the CSV show them: public
ids, names and order numbers instead of internal ids, loaded in one query per kind."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant
from loopmall.orders import service as orders
from loopmall.rebates import earners
from loopmall.rebates.models import CommissionEntry, Settlement, SettlementLine
from loopmall.rebates.schemas import (
    EarnerOut,
    EarningsOut,
    EntryOut,
    SettlementLineOut,
    SettlementOut,
)
from loopmall.rebates.service import Earnings


def _earner(found: dict[tuple[str, int], earners.EarnerView], kind: str, ident: int) -> EarnerOut:
    view = found.get((kind, ident))
    return EarnerOut(kind=kind, id=view.public_id if view else None, name=view.name if view else "")


async def entries_out(
    session: AsyncSession, tenant: Tenant, entries: Sequence[CommissionEntry]
) -> list[EntryOut]:
    keys = {(e.earner_kind, e.earner_id) for e in entries}
    keys |= {("store", e.store_id) for e in entries if e.store_id is not None}
    found = await earners.describe(session, tenant, keys)
    payables = await orders.get_payables(session, tenant, {e.order_id for e in entries})
    settlement_ids = {e.settlement_id for e in entries if e.settlement_id is not None}
    settlements: dict[int, str] = {}
    if settlement_ids:
        rows = await session.execute(
            select(Settlement.id, Settlement.public_id).where(
                Settlement.merchant_id == tenant.id, Settlement.id.in_(settlement_ids)
            )
        )
        settlements = {i: p for i, p in rows.all()}
    out = []
    for e in entries:
        order = payables.get(e.order_id)
        store = found.get(("store", e.store_id)) if e.store_id is not None else None
        out.append(
            EntryOut(
                id=e.public_id,
                kind=e.kind,
                order=order.public_id if order else None,
                order_number=order.number if order else None,
                role=e.role,
                rule=e.rule,
                earner=_earner(found, e.earner_kind, e.earner_id),
                store=store.public_id if store else None,
                store_name=store.name if store else "",
                base_fen=e.base_fen,
                rate_bp=e.rate_bp,
                amount_fen=e.amount_fen,
                at=e.at,
                settlement=settlements.get(e.settlement_id) if e.settlement_id else None,
            )
        )
    return out


async def lines_out(
    session: AsyncSession, tenant: Tenant, lines: Sequence[SettlementLine]
) -> list[SettlementLineOut]:
    """Settlement lines with their earners' and stores' names (one query per kind)."""
    keys = {(line.earner_kind, line.earner_id) for line in lines}
    keys |= {("store", line.store_id) for line in lines if line.store_id is not None}
    found = await earners.describe(session, tenant, keys)
    shown = []
    for line in lines:
        store = found.get(("store", line.store_id)) if line.store_id is not None else None
        shown.append(
            SettlementLineOut(
                earner=_earner(found, line.earner_kind, line.earner_id),
                store=store.public_id if store else None,
                store_name=store.name if store else "",
                entries=line.entries,
                earned_fen=line.earned_fen,
                clawed_back_fen=line.clawed_back_fen,
                net_fen=line.net_fen,
            )
        )
    return shown


async def settlement_out(
    session: AsyncSession,
    tenant: Tenant,
    settlement: Settlement,
    lines: Sequence[SettlementLine] | None = None,
) -> SettlementOut:
    return SettlementOut(
        id=settlement.public_id,
        period_start=settlement.period_start,
        period_end=settlement.period_end,
        entries=settlement.entries,
        total_fen=settlement.total_fen,
        created_at=settlement.created_at,
        lines=await lines_out(session, tenant, lines) if lines is not None else None,
    )


async def unsettled_out(
    session: AsyncSession, tenant: Tenant, rows: Sequence[tuple[str, int, int | None, int, int]]
) -> list[SettlementLineOut]:
    """``ledger.unsettled_by_earner`` as lines of the settlement it would make."""
    keys = {(kind, ident) for kind, ident, _s, _c, _n in rows}
    keys |= {("store", store) for _k, _i, store, _c, _n in rows if store is not None}
    found = await earners.describe(session, tenant, keys)
    out = []
    for kind, ident, store_id, count, net in rows:
        store = found.get(("store", store_id)) if store_id is not None else None
        out.append(
            SettlementLineOut(
                earner=_earner(found, kind, ident),
                store=store.public_id if store else None,
                store_name=store.name if store else "",
                entries=count,
                earned_fen=0,
                clawed_back_fen=0,
                net_fen=net,
            )
        )
    return out


async def earnings_out(session: AsyncSession, tenant: Tenant, earnings: Earnings) -> EarningsOut:
    found = await earners.describe(session, tenant, [(earnings.earner_kind, earnings.earner_id)])
    return EarningsOut(
        earner=_earner(found, earnings.earner_kind, earnings.earner_id),
        earned_fen=earnings.earned_fen,
        clawed_back_fen=earnings.clawed_back_fen,
        net_fen=earnings.net_fen,
        settled_fen=earnings.settled_fen,
        pending_fen=earnings.pending_fen,
        orders=earnings.orders,
    )
