"""Running sums of the commission ledger: each earner's (and store's) balance and the
merchant's totals, so that the console reads a page of balances by index instead of
grouping and summing every ledger line (#11, chain scale: 947 k lines, 21,800 earners).

The ledger's writers keep them in their own transaction: ``ledger.book_credits`` and
``ledger.claw_back`` call :func:`add_entries` for the lines they booked, and
``settlement.settle`` calls :func:`settle_lines` for the lines it took. Every change is an
``x = x + :d`` upsert (no read-modify-write, so no lost update), balances in the order of
their key and the merchant's totals last, so two writers lock rows in the same order.
:func:`reconcile` compares them with the sums of the ledger; :func:`rebuild` recomputes them
(what migration 0022 did, for rows written around the ledger's functions, e.g. a bulk load).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant
from loopmall.core.valueset import chunks
from loopmall.rebates.models import CommissionBalance, CommissionEntry, CommissionTotals

Key = tuple[str, int, int]  # earner kind, earner id, store key (store id or 0)


@dataclass(slots=True)
class Sums:
    """The columns both tables keep (``clawed_back_fen`` positive)."""

    entries: int = 0
    earned_fen: int = 0
    clawed_back_fen: int = 0
    unsettled_entries: int = 0
    unsettled_earned_fen: int = 0
    unsettled_clawed_back_fen: int = 0
    unsettled_fen: int = 0

    def add_line(self, amount_fen: int, *, settled: bool) -> None:
        earned, clawed = max(amount_fen, 0), max(-amount_fen, 0)
        self.entries += 1
        self.earned_fen += earned
        self.clawed_back_fen += clawed
        if not settled:
            self.unsettled_entries += 1
            self.unsettled_earned_fen += earned
            self.unsettled_clawed_back_fen += clawed
            self.unsettled_fen += amount_fen

    def add(self, other: Sums) -> None:
        for name in COLUMNS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def values(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COLUMNS}


COLUMNS = tuple(f.name for f in fields(Sums))


def key_of(earner_kind: str, earner_id: int, store_id: int | None) -> Key:
    return earner_kind, int(earner_id), int(store_id or 0)


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def _upsert(
    session: AsyncSession, tenant: Tenant, changes: dict[Key, tuple[int | None, Sums]]
) -> None:
    """Add ``changes`` to the balances (created when missing) and their sum to the totals;
    rows in key order, in statements of at most ``chunks``' size (a settlement of a chain's
    19,000 earners is one change per balance: as one statement it bound 13 parameters a
    row, past asyncpg's 32,767)."""
    if not changes:
        return
    insert = _insert(session)
    total = Sums()
    rows = []
    for key in sorted(changes):
        store_id, sums = changes[key]
        total.add(sums)
        rows.append(
            {
                "merchant_id": tenant.id,
                "earner_kind": key[0],
                "earner_id": key[1],
                "store_id": store_id,
                "store_key": key[2],
                **sums.values(),
            }
        )
    table = CommissionBalance.__table__.c
    for part in chunks(rows):
        stmt = insert(CommissionBalance).values(list(part))
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["merchant_id", "earner_kind", "earner_id", "store_key"],
                set_={name: table[name] + stmt.excluded[name] for name in COLUMNS},
            )
        )
    totals = insert(CommissionTotals).values(merchant_id=tenant.id, **total.values())
    columns = CommissionTotals.__table__.c
    await session.execute(
        totals.on_conflict_do_update(
            index_elements=["merchant_id"],
            set_={name: columns[name] + totals.excluded[name] for name in COLUMNS},
        )
    )


async def add_entries(
    session: AsyncSession, tenant: Tenant, entries: Iterable[CommissionEntry]
) -> None:
    """Count newly booked ledger lines (not settled yet) into their balances and the totals."""
    changes: dict[Key, tuple[int | None, Sums]] = {}
    for entry in entries:
        key = key_of(entry.earner_kind, entry.earner_id, entry.store_id)
        _store, sums = changes.setdefault(key, (entry.store_id, Sums()))
        sums.add_line(entry.amount_fen, settled=entry.settlement_id is not None)
    await _upsert(session, tenant, changes)


async def settle_lines(
    session: AsyncSession,
    tenant: Tenant,
    lines: Sequence[tuple[str, int, int | None, int, int, int]],
) -> None:
    """Move what a settlement took out of the unsettled sums: one (earner kind, earner id,
    store id, lines, earned, clawed back ≤ 0) per balance, as ``settle`` totals them."""
    changes: dict[Key, tuple[int | None, Sums]] = {}
    for kind, earner_id, store_id, count, earned, clawed in lines:
        changes[key_of(kind, earner_id, store_id)] = (
            store_id,
            Sums(
                unsettled_entries=-count,
                unsettled_earned_fen=-earned,
                unsettled_clawed_back_fen=clawed,
                unsettled_fen=-(earned + clawed),
            ),
        )
    await _upsert(session, tenant, changes)


# --- reading ---------------------------------------------------------------------------


async def merchant_totals(session: AsyncSession, tenant: Tenant) -> Sums:
    row = await session.scalar(
        select(CommissionTotals).where(CommissionTotals.merchant_id == tenant.id)
    )
    return Sums(**{n: int(getattr(row, n)) for n in COLUMNS}) if row is not None else Sums()


async def sum_balances(session: AsyncSession, tenant: Tenant, *where: ColumnElement[bool]) -> Sums:
    """The sum of the balances matching ``where`` (one earner's, or a few stores')."""
    c = CommissionBalance
    row = (
        await session.execute(
            select(*(func.coalesce(func.sum(getattr(c, n)), 0) for n in COLUMNS)).where(
                c.merchant_id == tenant.id, *where
            )
        )
    ).one()
    return Sums(*(int(v) for v in row))


# --- checking and rebuilding -------------------------------------------------------------


def _ledger_sums() -> list[Any]:
    amount = CommissionEntry.amount_fen
    open_ = CommissionEntry.settlement_id.is_(None)
    return [
        func.count(),
        func.coalesce(func.sum(case((amount > 0, amount), else_=0)), 0),
        func.coalesce(func.sum(case((amount < 0, -amount), else_=0)), 0),
        func.coalesce(func.sum(case((open_, 1), else_=0)), 0),
        func.coalesce(func.sum(case((open_ & (amount > 0), amount), else_=0)), 0),
        func.coalesce(func.sum(case((open_ & (amount < 0), -amount), else_=0)), 0),
        func.coalesce(func.sum(case((open_, amount), else_=0)), 0),
    ]


async def reconcile(session: AsyncSession, tenant: Tenant) -> list[str]:
    """Where the kept balances and totals differ from the sums of the ledger's lines, one
    line of text each; an empty list when they agree. Reads the whole ledger: a check for
    tests and operators, not for a page."""
    e = CommissionEntry
    rows = await session.execute(
        select(e.earner_kind, e.earner_id, e.store_id, *_ledger_sums())
        .where(e.merchant_id == tenant.id)
        .group_by(e.earner_kind, e.earner_id, e.store_id)
    )
    expected: dict[Key, Sums] = {}
    total = Sums()
    for kind, earner_id, store_id, *sums in rows.all():
        found = Sums(*(int(v) for v in sums))
        expected[key_of(kind, earner_id, store_id)] = found
        total.add(found)
    kept: dict[Key, Sums] = {}
    for balance in (
        await session.scalars(
            select(CommissionBalance).where(CommissionBalance.merchant_id == tenant.id)
        )
    ).all():
        kept[key_of(balance.earner_kind, balance.earner_id, balance.store_id)] = Sums(
            **{n: int(getattr(balance, n)) for n in COLUMNS}
        )
    problems = []
    for key in sorted(set(expected) | set(kept)):
        want, have = expected.get(key, Sums()), kept.get(key, Sums())
        if astuple(want) != astuple(have):
            problems.append(f"balance {key}: ledger {want}, kept {have}")
    have_total = await merchant_totals(session, tenant)
    if astuple(total) != astuple(have_total):
        problems.append(f"totals: ledger {total}, kept {have_total}")
    return problems


async def rebuild(session: AsyncSession, tenant: Tenant) -> None:
    """Recompute the merchant's balances and totals from its ledger lines (for lines written
    around the ledger's functions; the ledger's writers must not run meanwhile)."""
    e = CommissionEntry
    await session.execute(
        delete(CommissionBalance).where(CommissionBalance.merchant_id == tenant.id)
    )
    await session.execute(delete(CommissionTotals).where(CommissionTotals.merchant_id == tenant.id))
    insert = _insert(session)
    await session.execute(
        insert(CommissionBalance).from_select(
            ["merchant_id", "earner_kind", "earner_id", "store_id", "store_key", *COLUMNS],
            select(
                literal(tenant.id),
                e.earner_kind,
                e.earner_id,
                e.store_id,
                func.coalesce(e.store_id, 0),
                *_ledger_sums(),
            )
            .where(e.merchant_id == tenant.id)
            .group_by(e.earner_kind, e.earner_id, e.store_id),
        )
    )
    await session.execute(
        insert(CommissionTotals).from_select(
            ["merchant_id", *COLUMNS],
            select(literal(tenant.id), *_ledger_sums()).where(e.merchant_id == tenant.id),
        )
    )
