"""The ledger's running totals (``attribution_totals``): kept as credits are written, read for
the ledger's per-role totals.

Each credit adds to up to three rows — the merchant's (scope ``all``), its store's, its
guide's — keyed by the Asia/Shanghai day, the role and the rule. A view of the ledger then
sums a few rows per day in its range, where it counted every credit of the merchant (bench
chainscale, a chain's 1 M credits: 1.0 s per view, an external merge sort on PostgreSQL).

An order has at most one credit per role (``uq (merchant_id, order_id, role)``), so a role's
credit count is also its count of distinct orders: no order ids need to be kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, func, literal, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution.models import Credit, CreditTotal
from loopmall.core import clock
from loopmall.core.tenancy import Tenant
from loopmall.core.valueset import one_of

TOTALS = CreditTotal.metadata.tables[CreditTotal.__tablename__]
KEY = ("merchant_id", "scope", "scope_id", "day", "role", "rule")
# SQLite allows 32,766 bound parameters per statement.
IN_CHUNK = 5_000


def shanghai_day(at: datetime) -> date:
    return clock.local(at).date()


def _deltas(merchant_id: int, credits: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    sums: dict[tuple[str, int, date, str, str], list[int]] = defaultdict(lambda: [0, 0])
    # Per order: the channels and shares its credits name, each counted once.
    through: dict[tuple[str, int, int, date], int] = {}
    for c in credits:
        day = shanghai_day(c["at"])
        scopes = [("all", 0)]
        if c["store_id"] is not None:
            scopes.append(("store", c["store_id"]))
        if c["guide_staff_id"] is not None:
            scopes.append(("guide", c["guide_staff_id"]))
        for scope, scope_id in scopes:
            total = sums[(scope, scope_id, day, c["role"], c["rule"])]
            total[0] += 1
            total[1] += c["amount_fen"]
        for scope, key in (("channel", "channel_id"), ("share", "share_id")):
            if c[key] is not None:
                at = (scope, c[key], c["order_id"], day)
                through[at] = max(through.get(at, 0), c["amount_fen"])
    for (scope, scope_id, _order, day), fen in through.items():
        total = sums[(scope, scope_id, day, "", "")]
        total[0] += 1
        total[1] += fen
    # Sorted by key: concurrent batches take the rows' locks in one order (no deadlock).
    return [
        {
            "merchant_id": merchant_id,
            "scope": scope,
            "scope_id": scope_id,
            "day": day,
            "role": role,
            "rule": rule,
            "credits": n,
            "amount_fen": fen,
        }
        for (scope, scope_id, day, role, rule), (n, fen) in sorted(sums.items())
    ]


async def add_credits(
    session: AsyncSession, tenant: Tenant, credits: Iterable[dict[str, Any]]
) -> None:
    """Add the credits just inserted — every credit of each of their orders, as
    :func:`~loopmall.attribution.ledger.credit_orders` writes them (rows with ``order_id``,
    ``at``, ``role``, ``rule``, ``store_id``, ``guide_staff_id``, ``channel_id``,
    ``share_id``, ``amount_fen``) — to the running totals, in the caller's transaction.

    One insert-or-add statement: ``credits = credits + excluded.credits`` is applied to the
    row as it stands when the statement reaches it, so concurrent crediting loses nothing."""
    rows = _deltas(tenant.id, credits)
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(TOTALS)
    stmt = stmt.on_conflict_do_update(
        index_elements=[TOTALS.c[k] for k in KEY],
        set_={
            "credits": TOTALS.c.credits + stmt.excluded.credits,
            "amount_fen": TOTALS.c.amount_fen + stmt.excluded.amount_fen,
        },
    )
    await session.execute(stmt, rows)


def _day_of(at: datetime | None) -> date | bool | None:
    """The Shanghai day starting at ``at``; False when ``at`` is not a day's start."""
    if at is None:
        return None
    day = shanghai_day(at)
    return day if datetime.combine(day, time(), tzinfo=clock.SHANGHAI) == at else False


def kept_criteria(
    *,
    role: str | None,
    rule: str | None,
    store_id: int | None,
    guide_staff_id: int | None,
    store_ids: frozenset[int] | None,
    since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]] | None:
    """The criteria on ``attribution_totals`` that select exactly a ledger filter's credits,
    or None when the totals do not keep that cut (one guide within some stores, a time that
    is not the start of a Shanghai day)."""
    first, end = _day_of(since), _day_of(until)
    if first is False or end is False:
        return None
    out: list[ColumnElement[bool]] = []
    if guide_staff_id is not None:
        if store_id is not None or store_ids is not None:
            return None
        out += [CreditTotal.scope == "guide", CreditTotal.scope_id == guide_staff_id]
    elif store_id is not None:
        out += [CreditTotal.scope == "store", CreditTotal.scope_id == store_id]
        if store_ids is not None and store_id not in store_ids:
            out.append(CreditTotal.scope_id != store_id)  # none of the caller's stores
    elif store_ids is not None:
        out += [CreditTotal.scope == "store", one_of(CreditTotal.scope_id, store_ids)]
    else:
        out += [CreditTotal.scope == "all", CreditTotal.scope_id == 0]
    if role:
        out.append(CreditTotal.role == role)
    if rule:
        out.append(CreditTotal.rule == rule)
    if isinstance(first, date):
        out.append(CreditTotal.day >= first)
    if isinstance(end, date):
        out.append(CreditTotal.day < end)
    return out


async def kept_role_totals(
    session: AsyncSession, tenant: Tenant, criteria: list[ColumnElement[bool]]
) -> list[tuple[str, int, int]]:
    """(role, credits, amount) per role over the kept totals matching ``criteria``."""
    result = await session.execute(
        select(
            CreditTotal.role,
            func.coalesce(func.sum(CreditTotal.credits), 0),
            func.coalesce(func.sum(CreditTotal.amount_fen), 0),
        )
        .where(CreditTotal.merchant_id == tenant.id, *criteria)
        .group_by(CreditTotal.role)
        .order_by(CreditTotal.role)
    )
    return [(role, int(n), int(fen)) for role, n, fen in result if int(n) > 0]


async def through(
    session: AsyncSession, tenant: Tenant, scope: str, ids: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """(orders, amount) credited through each QR channel or share (``scope``) of ``ids``,
    summed over the days the totals keep; ids with none are missing."""
    found: dict[int, tuple[int, int]] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), IN_CHUNK):
        rows = await session.execute(
            select(
                CreditTotal.scope_id,
                func.sum(CreditTotal.credits),
                func.sum(CreditTotal.amount_fen),
            )
            .where(
                CreditTotal.merchant_id == tenant.id,
                CreditTotal.scope == scope,
                CreditTotal.scope_id.in_(wanted[start : start + IN_CHUNK]),
            )
            .group_by(CreditTotal.scope_id)
        )
        found.update({int(k): (int(n or 0), int(fen or 0)) for k, n, fen in rows})
    return found


async def rebuild(session: AsyncSession, tenant: Tenant) -> None:
    """Recompute the merchant's totals from its credits, in the database (for credits written
    around :func:`add_credits`, e.g. loaded in bulk; migrations 0023 and 0025 fill them the
    same way)."""
    await session.execute(TOTALS.delete().where(TOTALS.c.merchant_id == tenant.id))
    if session.get_bind().dialect.name == "postgresql":
        day: ColumnElement[Any] = cast(func.timezone("Asia/Shanghai", Credit.at), Date)
    else:
        day = func.date(Credit.at, "+8 hours")
    # The constant 0 is not grouped by: SQLite would read it as a column position.
    for scope, scope_id, grouped in (
        ("all", literal_column("0"), ()),
        ("store", Credit.store_id, (Credit.store_id,)),
        ("guide", Credit.guide_staff_id, (Credit.guide_staff_id,)),
    ):
        per_key = (
            select(
                Credit.merchant_id, literal(scope), scope_id, day, Credit.role, Credit.rule,
                func.count(), func.coalesce(func.sum(Credit.amount_fen), 0),
            )
            .where(Credit.merchant_id == tenant.id, scope_id.is_not(None))
            .group_by(Credit.merchant_id, *grouped, day, Credit.role, Credit.rule)
        )  # fmt: skip
        await session.execute(TOTALS.insert().from_select([*KEY, "credits", "amount_fen"], per_key))
    # Channels and shares: an order once (its credits' amount is the same), on its day.
    for scope, column in (("channel", Credit.channel_id), ("share", Credit.share_id)):
        per_order = (
            select(
                column.label("key"), func.min(Credit.at).label("at"),
                func.max(Credit.amount_fen).label("fen"),
            )
            .where(Credit.merchant_id == tenant.id, column.is_not(None))
            .group_by(column, Credit.order_id)
            .subquery()
        )  # fmt: skip
        if session.get_bind().dialect.name == "postgresql":
            order_day: ColumnElement[Any] = cast(
                func.timezone("Asia/Shanghai", per_order.c.at), Date
            )
        else:
            order_day = func.date(per_order.c.at, "+8 hours")
        per_key = select(
            literal(tenant.id), literal(scope), per_order.c.key, order_day, literal(""),
            literal(""), func.count(), func.sum(per_order.c.fen),
        ).group_by(per_order.c.key, order_day)  # fmt: skip
        await session.execute(TOTALS.insert().from_select([*KEY, "credits", "amount_fen"], per_key))
