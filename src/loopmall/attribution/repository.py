"""Queries over the ledger: totals per channel and per share (for the QR-code and share
pages), the ledger with filters, a customer's touches.

An order counts once per channel (or share) however many of its credits name it; its GMV
is the amount it was credited with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution.models import Credit, Touch
from loopmall.attribution.totals import kept_criteria, kept_role_totals, through
from loopmall.core.errors import OutOfRange, ValidationFailed
from loopmall.core.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.valueset import one_of


@dataclass(frozen=True, slots=True)
class ChannelTotals:
    orders: int = 0
    gmv_fen: int = 0


@dataclass(frozen=True, slots=True)
class ShareTotals:
    orders: int = 0
    gmv_fen: int = 0


async def totals_by_channel(
    session: AsyncSession, tenant: Tenant, channel_ids: Sequence[int]
) -> dict[int, ChannelTotals]:
    """Orders and GMV credited through each QR channel (every id asked for is in the answer).

    From the running totals (a row per channel and day), where it grouped every credit of
    the channels by order."""
    kept = await through(session, tenant, "channel", channel_ids)
    return {k: ChannelTotals(*kept.get(k, (0, 0))) for k in sorted(set(channel_ids))}


async def totals_by_share(
    session: AsyncSession, tenant: Tenant, share_ids: Sequence[int]
) -> dict[int, ShareTotals]:
    """Orders and GMV credited through each share (every id asked for is in the answer)."""
    kept = await through(session, tenant, "share", share_ids)
    return {k: ShareTotals(*kept.get(k, (0, 0))) for k in sorted(set(share_ids))}


async def sharer_credits(
    session: AsyncSession, tenant: Tenant, share_ids: Sequence[int]
) -> dict[int, int]:
    """Credit id → share id of the ``sharer`` and ``upstream_sharer`` credits of orders won
    through these shares (what sharers earn commission on)."""
    if not share_ids:
        return {}
    rows = await session.execute(
        select(Credit.id, Credit.share_id).where(
            Credit.merchant_id == tenant.id,
            Credit.role.in_(("sharer", "upstream_sharer")),
            one_of(Credit.share_id, sorted(set(share_ids))),
        )
    )
    return {int(credit): int(share) for credit, share in rows.all() if share is not None}


@dataclass(frozen=True, slots=True)
class LedgerFilter:
    role: str | None = None
    store_id: int | None = None
    guide_staff_id: int | None = None
    rule: str | None = None
    since: datetime | None = None  # included
    until: datetime | None = None  # excluded
    # A store-scoped caller sees only credits of their stores.
    store_ids: frozenset[int] | None = None

    def criteria(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.role:
            out.append(Credit.role == self.role)
        if self.store_id is not None:
            out.append(Credit.store_id == self.store_id)
        if self.guide_staff_id is not None:
            out.append(Credit.guide_staff_id == self.guide_staff_id)
        if self.rule:
            out.append(Credit.rule == self.rule)
        if self.since is not None:
            out.append(Credit.at >= self.since)
        if self.until is not None:
            out.append(Credit.at < self.until)
        if self.store_ids is not None:
            out.append(one_of(Credit.store_id, self.store_ids))
        return out


@dataclass(frozen=True, slots=True)
class RoleTotals:
    role: str
    credits: int
    orders: int
    amount_fen: int


@dataclass(slots=True)
class LedgerPage:
    items: list[Credit]
    next_cursor: str | None
    totals: list[RoleTotals] = field(default_factory=list)


def _after(cursor: str | None) -> int | None:
    if not cursor:
        return None
    after = decode_cursor(cursor)
    if not isinstance(after, int) or isinstance(after, bool) or not 0 < after < 2**63:
        raise ValidationFailed("The cursor is not valid", field="cursor")
    return after


async def ledger(
    session: AsyncSession,
    tenant: Tenant,
    filters: LedgerFilter,
    *,
    cursor: str | None = None,
    limit: int = 50,
    with_totals: bool = True,
) -> LedgerPage:
    """Credits newest first (keyset on id), and per-role totals over the whole filter."""
    if limit < 1 or limit > MAX_LIMIT:
        raise OutOfRange(
            f"limit must be between 1 and {MAX_LIMIT}", field="limit", low=1, high=MAX_LIMIT
        )
    criteria = filters.criteria()
    stmt = scoped(Credit, tenant, *criteria)
    after = _after(cursor)
    if after is not None:
        stmt = stmt.where(Credit.id < after)
    rows = list(await session.scalars(stmt.order_by(Credit.id.desc()).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].id)
    totals: list[RoleTotals] = []
    if with_totals:
        totals = await _role_totals(session, tenant, filters, criteria)
    return LedgerPage(rows, next_cursor, totals)


async def _role_totals(
    session: AsyncSession,
    tenant: Tenant,
    filters: LedgerFilter,
    criteria: list[ColumnElement[bool]],
) -> list[RoleTotals]:
    """Per-role totals over the whole filter: from the running totals (a few rows per day)
    where they keep the filter's cut; else (one guide within some stores, a time that is not
    a day's start) counted from the credits the filter names — one guide's, by index."""
    kept = kept_criteria(
        role=filters.role,
        rule=filters.rule,
        store_id=filters.store_id,
        guide_staff_id=filters.guide_staff_id,
        store_ids=filters.store_ids,
        since=filters.since,
        until=filters.until,
    )
    if kept is not None:
        # One credit per role of an order: a role's credits are its distinct orders.
        return [
            RoleTotals(r, n, n, fen) for r, n, fen in await kept_role_totals(session, tenant, kept)
        ]
    result = await session.execute(
        select(
            Credit.role,
            func.count(),
            func.count(func.distinct(Credit.order_id)),
            func.coalesce(func.sum(Credit.amount_fen), 0),
        )
        .where(Credit.merchant_id == tenant.id, *criteria)
        .group_by(Credit.role)
        .order_by(Credit.role)
    )
    return [RoleTotals(r, int(c), int(o), int(a)) for r, c, o, a in result]


async def customer_touches(
    session: AsyncSession, tenant: Tenant, customer_id: int, *, limit: int = 50
) -> list[Touch]:
    """The customer's latest touches, newest first."""
    stmt = scoped(Touch, tenant, Touch.customer_id == customer_id)
    return list(await session.scalars(stmt.order_by(Touch.at.desc(), Touch.id.desc()).limit(limit)))
