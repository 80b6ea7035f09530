"""What every stock operation stands on: locking levels, lapsing due holds, the ledger.

How the invariants hold (S0: "stock keeps dropping to zero" must never happen):

* Every operation on a stock level first locks the level row (``SELECT … FOR UPDATE``
  on PostgreSQL, several levels in primary-key order; on SQLite the write transaction
  began with ``BEGIN IMMEDIATE``), so writers of one level take turns and two writers
  never lock levels in opposite orders (no deadlock).
* Under that lock it records the lapse of the level's holds whose time is up, then changes
  the counts with a conditional ``UPDATE … WHERE on_hand - held >= :q`` whose row count is
  checked (CONVENTIONS rule 12); CHECK constraints refuse negative counts or more held than
  on hand as a last line.
* Every change writes a ledger line (:class:`StockMovement`) in the same transaction, so
  the ledger's sums equal ``on_hand`` and ``held``.
* ``available = on_hand − units of holds that are active and not expired`` at every
  moment: writes lapse expired holds before they count, reads subtract expired holds in
  the same SELECT (``repository.expired_held``), and the periodic sweep
  (``inventory.jobs``) records lapses no write has touched yet.

Services flush but never commit; the caller's unit of work commits. If a function raises,
the caller must roll back (the routes do, by not committing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Sku
from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant
from loopmall.inventory.events import StockAvailabilityChanged
from loopmall.inventory.models import Hold, Location, StockLevel, StockMovement
from loopmall.inventory.repository import StockView, insert_ignore
from loopmall.inventory.rules import (
    HOLDS,
    SYSTEM_ACTOR,
    HoldStatus,
    InsufficientStock,
    MovementKind,
    clean_text,
)

NO_SYNC = {"synchronize_session": False}
LEVEL_COLUMNS = (
    StockLevel.id,
    StockLevel.merchant_id,
    StockLevel.sku_id,
    StockLevel.location_id,
    StockLevel.on_hand,
    StockLevel.held,
)


@dataclass
class Level:
    """A locked level's numbers as this transaction sees them, and how many of its holds
    are due to lapse (so the common case, none, costs no statement)."""

    id: int
    merchant_id: int
    sku_id: int
    location_id: int
    on_hand: int
    held: int
    due: int

    @classmethod
    def of(cls, row: Row[*tuple[Any, ...]]) -> Level:
        id_, merchant_id, sku_id, location_id, on_hand, held, due = row
        return cls(id_, merchant_id, sku_id, location_id, on_hand, held, due)

    def view(self) -> StockView:
        return StockView(self.sku_id, self.location_id, self.on_hand, self.held)


def check_actor(actor: str) -> str:
    return clean_text(actor, field="actor", max_length=40)


def check_reason(reason: str) -> str:
    return clean_text(reason, field="reason", max_length=200)


def _due(now: datetime) -> Any:
    return (
        select(func.count())
        .where(
            Hold.stock_level_id == StockLevel.id,
            Hold.status == HoldStatus.ACTIVE.value,
            Hold.expires_at <= now,
        )
        .correlate(StockLevel)
        .scalar_subquery()
    )


async def lock(session: AsyncSession, *criteria: Any, now: datetime) -> list[Level]:
    """Lock the levels matching ``criteria`` in id order (PostgreSQL ``FOR UPDATE``).

    Only the level rows are locked (``OF stock_levels``) even when ``criteria`` join a
    hold: every path locks a level before touching its holds, so none can deadlock.
    """
    stmt = (
        select(*LEVEL_COLUMNS, _due(now))
        .where(*criteria)
        .order_by(StockLevel.id)
        # NO KEY UPDATE: writers of the level queue here, yet inserts of rows that merely
        # reference it (the FK check takes KEY SHARE) are never blocked by the lock.
        .with_for_update(of=StockLevel, key_share=True)
    )
    return [Level.of(r) for r in (await session.execute(stmt)).all()]


async def lock_for_hold(
    session: AsyncSession, tenant: Tenant, hold_id: int, *, now: datetime
) -> Level:
    """Lock the level of one of the merchant's holds (one statement); 404 if none."""
    levels = await lock(
        session,
        StockLevel.id
        == select(Hold.stock_level_id)
        .where(Hold.id == hold_id, Hold.merchant_id == tenant.id)
        .scalar_subquery(),
        now=now,
    )
    if not levels:
        raise NotFound("No such hold")
    return levels[0]


async def lock_level(
    session: AsyncSession,
    tenant: Tenant,
    sku_id: int,
    location_id: int,
    *,
    create: bool,
    now: datetime,
) -> Level | None:
    """Lock the level of (sku, location); with ``create``, make it first if missing."""
    criteria = (
        StockLevel.merchant_id == tenant.id,
        StockLevel.sku_id == sku_id,
        StockLevel.location_id == location_id,
    )
    levels = await lock(session, *criteria, now=now)
    if levels:
        return levels[0]
    # A level is only ever created after both ends are known to be this merchant's.
    await require_sku_and_location(session, tenant, sku_id, location_id)
    if not create:
        return None
    await insert_ignore(
        session,
        StockLevel,
        {
            "merchant_id": tenant.id,
            "sku_id": sku_id,
            "location_id": location_id,
            "on_hand": 0,
            "held": 0,
            "updated_at": clock.now(),
        },
    )
    levels = await lock(session, *criteria, now=now)
    return levels[0]


async def ensure_level(session: AsyncSession, tenant: Tenant, sku_id: int, location_id: int) -> int:
    """The id of the level of (sku, location), made if missing; locks nothing."""
    stmt = select(StockLevel.id).where(
        StockLevel.merchant_id == tenant.id,
        StockLevel.sku_id == sku_id,
        StockLevel.location_id == location_id,
    )
    level_id = await session.scalar(stmt)
    if level_id is None:
        await require_sku_and_location(session, tenant, sku_id, location_id)
        await insert_ignore(
            session,
            StockLevel,
            {
                "merchant_id": tenant.id,
                "sku_id": sku_id,
                "location_id": location_id,
                "on_hand": 0,
                "held": 0,
                "updated_at": clock.now(),
            },
        )
        level_id = await session.scalar(stmt)
        assert level_id is not None  # inserted above, or by the transaction we waited for
    return int(level_id)


async def require_sku_and_location(
    session: AsyncSession, tenant: Tenant, sku_id: int, location_id: int
) -> None:
    sku = await session.scalar(select(Sku.id).where(Sku.merchant_id == tenant.id, Sku.id == sku_id))
    if sku is None:
        raise NotFound("No such SKU")
    location = await session.scalar(
        select(Location.id).where(Location.merchant_id == tenant.id, Location.id == location_id)
    )
    if location is None:
        raise NotFound("No such location")


def movement(
    level: Level,
    kind: MovementKind,
    *,
    actor: str,
    at: datetime,
    on_hand: int = 0,
    held: int = 0,
    hold_id: int | None = None,
    reason: str = "",
) -> dict[str, Any]:
    return {
        "merchant_id": level.merchant_id,
        "stock_level_id": level.id,
        "sku_id": level.sku_id,
        "location_id": level.location_id,
        "kind": kind.value,
        "delta_on_hand": on_hand,
        "delta_held": held,
        "hold_id": hold_id,
        "reason": reason,
        "actor": actor,
        "created_at": at,
    }


async def write_ledger(session: AsyncSession, lines: list[dict[str, Any]]) -> None:
    if lines:
        await session.execute(insert(StockMovement), lines)


async def set_counts(session: AsyncSession, level: Level, **where: Any) -> None:
    """Write the level's new numbers, guarded by ``where`` on the old ones (rule 12)."""
    stmt = update(StockLevel).where(StockLevel.id == level.id)
    for column, value in where.items():
        stmt = stmt.where(getattr(StockLevel, column) == value)
    result = await session.execute(
        stmt.values(on_hand=level.on_hand, held=level.held, updated_at=clock.now()),
        execution_options=NO_SYNC,
    )
    if getattr(result, "rowcount", 0) != 1:
        # Unreachable while the row is locked; refusing beats writing a wrong count.
        raise RuntimeError(f"stock level {level.id} changed under its lock")


async def announce_crossing(session: AsyncSession, level: Level, available_before: int) -> None:
    """Publish that the level's free units crossed zero, if they did: the storefront shows
    "sold out" or "in stock" from the next request on (a crossing of the SKU's total always
    crosses at one of its locations)."""
    available = level.on_hand - level.held
    if (available_before > 0) == (available > 0):
        return
    await publish(
        session,
        StockAvailabilityChanged(
            merchant_id=level.merchant_id,
            sku_id=level.sku_id,
            location_id=level.location_id,
            sold_out=available <= 0,
            available=available,
        ),
    )


async def lapse_due(session: AsyncSession, level: Level, now: datetime) -> int:
    """Record the lapse of the locked level's holds whose time is up; returns how many."""
    if not level.due:
        return 0
    level.due = 0
    result = await session.execute(
        update(Hold)
        .where(
            Hold.stock_level_id == level.id,
            Hold.status.in_(HOLDS.sources_of(HoldStatus.LAPSED)),
            Hold.expires_at <= now,
        )
        .values(status=HoldStatus.LAPSED.value, ended_at=Hold.expires_at)
        .returning(Hold.id, Hold.quantity),
        execution_options=NO_SYNC,
    )
    lapsed = result.all()
    if not lapsed:
        return 0
    units = sum(q for _id, q in lapsed)
    before = (level.on_hand, level.held)
    level.held -= units
    await set_counts(session, level, on_hand=before[0], held=before[1])
    await announce_crossing(session, level, before[0] - before[1])
    await write_ledger(
        session,
        [
            movement(level, MovementKind.LAPSE, actor=SYSTEM_ACTOR, at=now, held=-q, hold_id=i)
            for i, q in sorted(lapsed)
        ],
    )
    return len(lapsed)


def insufficient(level: Level | None, requested: int) -> InsufficientStock:
    available = 0 if level is None else level.on_hand - level.held
    return InsufficientStock(
        f"Only {available} available, {requested} requested",
        available=available,
        requested=requested,
    )
