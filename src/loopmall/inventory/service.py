"""Stock operations: adjust, count, hold, release, consume, extend, lapse.

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

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Sku
from loopmall.core import clock
from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant
from loopmall.inventory.models import Hold, Location, StockLevel, StockMovement
from loopmall.inventory.repository import StockView, insert_ignore
from loopmall.inventory.rules import (
    MAX_UNITS,
    SYSTEM_ACTOR,
    BelowHeld,
    HoldReason,
    HoldStatus,
    InsufficientStock,
    MovementKind,
    StockLimitExceeded,
    check_quantity,
    check_transition,
    check_ttl,
    sources_of,
)

_NO_SYNC = {"synchronize_session": False}
_LEVEL_COLUMNS = (
    StockLevel.id,
    StockLevel.merchant_id,
    StockLevel.sku_id,
    StockLevel.location_id,
    StockLevel.on_hand,
    StockLevel.held,
)


@dataclass
class _Level:
    """A locked level's numbers as this transaction sees them."""

    id: int
    merchant_id: int
    sku_id: int
    location_id: int
    on_hand: int
    held: int

    @classmethod
    def of(cls, row: Row[Any]) -> _Level:
        return cls(*row)

    def view(self) -> StockView:
        return StockView(self.sku_id, self.location_id, self.on_hand, self.held)


@dataclass(frozen=True, slots=True)
class HoldLine:
    """One line of a multi-line hold (a checkout's cart): ``quantity`` of a SKU somewhere."""

    sku_id: int
    location_id: int
    quantity: int


def _check_actor(actor: str) -> str:
    if not actor or len(actor) > 40:
        raise ValidationFailed("actor must be 1–40 characters", field="actor")
    return actor


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > 200:
        raise ValidationFailed("Give a reason of 1–200 characters", field="reason")
    return reason


async def _lock(session: AsyncSession, *criteria: Any) -> list[_Level]:
    stmt = select(*_LEVEL_COLUMNS).where(*criteria).order_by(StockLevel.id).with_for_update()
    return [_Level.of(r) for r in (await session.execute(stmt)).all()]


async def _lock_level(
    session: AsyncSession, tenant: Tenant, sku_id: int, location_id: int, *, create: bool
) -> _Level | None:
    """Lock the level of (sku, location); with ``create``, make it first if missing."""
    criteria = (
        StockLevel.merchant_id == tenant.id,
        StockLevel.sku_id == sku_id,
        StockLevel.location_id == location_id,
    )
    levels = await _lock(session, *criteria)
    if levels:
        return levels[0]
    # A level is only ever created after both ends are known to be this merchant's.
    await _require_sku_and_location(session, tenant, sku_id, location_id)
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
    levels = await _lock(session, *criteria)
    return levels[0]


async def _ensure_level(
    session: AsyncSession, tenant: Tenant, sku_id: int, location_id: int
) -> int:
    """The id of the level of (sku, location), made if missing; locks nothing."""
    stmt = select(StockLevel.id).where(
        StockLevel.merchant_id == tenant.id,
        StockLevel.sku_id == sku_id,
        StockLevel.location_id == location_id,
    )
    level_id = await session.scalar(stmt)
    if level_id is None:
        await _require_sku_and_location(session, tenant, sku_id, location_id)
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
    return int(level_id)


async def _require_sku_and_location(
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


def _movement(
    level: _Level,
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


async def _write_ledger(session: AsyncSession, lines: list[dict[str, Any]]) -> None:
    if lines:
        await session.execute(insert(StockMovement), lines)


async def _set_counts(session: AsyncSession, level: _Level, **where: Any) -> None:
    """Write the level's new numbers, guarded by ``where`` on the old ones (rule 12)."""
    stmt = update(StockLevel).where(StockLevel.id == level.id)
    for column, value in where.items():
        stmt = stmt.where(getattr(StockLevel, column) == value)
    result = await session.execute(
        stmt.values(on_hand=level.on_hand, held=level.held, updated_at=clock.now()),
        execution_options=_NO_SYNC,
    )
    if getattr(result, "rowcount", 0) != 1:
        # Unreachable while the row is locked; refusing beats writing a wrong count.
        raise RuntimeError(f"stock level {level.id} changed under its lock")


async def _lapse_due(session: AsyncSession, level: _Level, now: datetime) -> int:
    """Record the lapse of the locked level's holds whose time is up; returns how many."""
    result = await session.execute(
        update(Hold)
        .where(
            Hold.stock_level_id == level.id,
            Hold.status.in_([s.value for s in sources_of(HoldStatus.LAPSED)]),
            Hold.expires_at <= now,
        )
        .values(status=HoldStatus.LAPSED.value, ended_at=Hold.expires_at)
        .returning(Hold.id, Hold.quantity),
        execution_options=_NO_SYNC,
    )
    lapsed = result.all()
    if not lapsed:
        return 0
    units = sum(q for _id, q in lapsed)
    before = (level.on_hand, level.held)
    level.held -= units
    await _set_counts(session, level, on_hand=before[0], held=before[1])
    await _write_ledger(
        session,
        [
            _movement(level, MovementKind.LAPSE, actor=SYSTEM_ACTOR, at=now, held=-q, hold_id=i)
            for i, q in sorted(lapsed)
        ],
    )
    return len(lapsed)


def _insufficient(level: _Level | None, requested: int) -> InsufficientStock:
    available = 0 if level is None else level.on_hand - level.held
    return InsufficientStock(
        f"Only {available} available, {requested} requested",
        available=available,
        requested=requested,
    )


async def adjust_stock(
    session: AsyncSession,
    tenant: Tenant,
    *,
    sku_id: int,
    location_id: int,
    delta: int,
    reason: str,
    actor: str,
    kind: MovementKind = MovementKind.ADJUST,
) -> StockView:
    """Add (``delta`` > 0) or remove (``delta`` < 0) units at a location and log why.

    ``kind`` is ``adjust`` or ``receive`` (goods arrived; ``delta`` must be positive).
    A removal may only take free units: more than available raises 409
    ``insufficient_stock`` and changes nothing — never a negative count, never a held
    unit. Raises 404 for another merchant's SKU/location, 422 for a zero or oversized
    delta, an empty reason or a count above ``MAX_UNITS``.
    """
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise ValidationFailed("delta must be a whole number other than 0", field="delta")
    if abs(delta) > MAX_UNITS:
        raise ValidationFailed(f"delta must be within ±{MAX_UNITS}", field="delta")
    if kind not in (MovementKind.ADJUST, MovementKind.RECEIVE):
        raise ValidationFailed("kind must be adjust or receive", field="kind")
    if kind is MovementKind.RECEIVE and delta < 0:
        raise ValidationFailed("A receipt adds units: delta must be positive", field="delta")
    reason, actor = _check_reason(reason), _check_actor(actor)
    now = clock.now()
    level = await _lock_level(session, tenant, sku_id, location_id, create=delta > 0)
    if level is None:
        raise _insufficient(None, -delta)
    await _lapse_due(session, level, now)
    if delta < 0 and level.on_hand - level.held < -delta:
        raise _insufficient(level, -delta)
    if level.on_hand + delta > MAX_UNITS:
        raise StockLimitExceeded(f"A location holds at most {MAX_UNITS} units of a SKU")
    result = await session.execute(
        update(StockLevel)
        .where(
            StockLevel.id == level.id,
            StockLevel.on_hand + delta >= StockLevel.held,
            StockLevel.on_hand + delta <= MAX_UNITS,
        )
        .values(on_hand=StockLevel.on_hand + delta, updated_at=now)
        .returning(StockLevel.on_hand, StockLevel.held),
        execution_options=_NO_SYNC,
    )
    row = result.first()
    if row is None:
        raise _insufficient(level, -delta)
    level.on_hand, level.held = row
    await _write_ledger(
        session, [_movement(level, kind, actor=actor, at=now, on_hand=delta, reason=reason)]
    )
    return level.view()


async def set_stock(
    session: AsyncSession,
    tenant: Tenant,
    *,
    sku_id: int,
    location_id: int,
    on_hand: int,
    reason: str,
    actor: str,
) -> StockView:
    """A stocktake: set ``on_hand`` to the counted number, logging the difference.

    Raises 409 ``below_held`` if the count is below the units held by active holds (release
    them first), 422 for a negative count or one above ``MAX_UNITS``, 404 for another
    merchant's SKU/location.
    """
    if isinstance(on_hand, bool) or not isinstance(on_hand, int):
        raise ValidationFailed("on_hand must be a whole number", field="on_hand")
    if not 0 <= on_hand <= MAX_UNITS:
        raise ValidationFailed(f"on_hand must be between 0 and {MAX_UNITS}", field="on_hand")
    reason, actor = _check_reason(reason), _check_actor(actor)
    now = clock.now()
    level = await _lock_level(session, tenant, sku_id, location_id, create=True)
    assert level is not None
    await _lapse_due(session, level, now)
    if on_hand < level.held:
        raise BelowHeld(
            f"{level.held} units are held for customers; the count cannot be below that",
            held=level.held,
        )
    delta = on_hand - level.on_hand
    before = level.on_hand
    level.on_hand = on_hand
    await _set_counts(session, level, on_hand=before)
    await _write_ledger(
        session,
        [_movement(level, MovementKind.COUNT, actor=actor, at=now, on_hand=delta, reason=reason)],
    )
    return level.view()


async def place_holds(
    session: AsyncSession,
    tenant: Tenant,
    lines: Sequence[HoldLine],
    *,
    ttl: timedelta,
    reason: HoldReason | str,
    reference: str,
    actor: str,
) -> list[Hold]:
    """Hold every line or none (a checkout's cart): one :class:`Hold` per line.

    Levels are locked in primary-key order, so concurrent multi-line holds cannot
    deadlock. Raises 409 ``insufficient_stock`` (with ``sku_id``/``location_id`` of the
    first short line) when any line wants more than is available, 422
    ``hold_ttl_out_of_range`` for a ttl outside 1 s – 7 days, 422 for a bad quantity, 404
    for another merchant's SKU/location.
    """
    if not lines:
        raise ValidationFailed("Hold at least one line", field="lines")
    for line in lines:
        check_quantity(line.quantity)
    check_ttl(ttl)
    reason = HoldReason(reason)
    actor = _check_actor(actor)
    if len(reference) > 100:
        raise ValidationFailed("reference is at most 100 characters", field="reference")
    now = clock.now()

    wanted: dict[tuple[int, int], int] = defaultdict(int)
    for line in lines:
        wanted[(line.sku_id, line.location_id)] += line.quantity
    ids: dict[tuple[int, int], int] = {}
    if len(wanted) == 1:
        ((sku_id, location_id),) = wanted
        level = await _lock_level(session, tenant, sku_id, location_id, create=True)
        assert level is not None
        ids[(sku_id, location_id)] = level.id
        locked = {level.id: level}
    else:
        # Make missing levels without locking any, then lock them all in id order: two
        # carts holding the same SKUs in another order cannot deadlock.
        for sku_id, location_id in wanted:
            ids[(sku_id, location_id)] = await _ensure_level(session, tenant, sku_id, location_id)
        locked = {lv.id: lv for lv in await _lock(session, StockLevel.id.in_(ids.values()))}

    for level in locked.values():
        await _lapse_due(session, level, now)
    for key, quantity in wanted.items():
        level = locked[ids[key]]
        if level.on_hand - level.held < quantity:
            error = _insufficient(level, quantity)
            error.extra.update(sku_id=key[0], location_id=key[1])
            raise error

    holds: list[Hold] = []
    for line in lines:
        level = locked[ids[(line.sku_id, line.location_id)]]
        result = await session.execute(
            update(StockLevel)
            .where(
                StockLevel.id == level.id,
                StockLevel.on_hand - StockLevel.held >= line.quantity,
            )
            .values(held=StockLevel.held + line.quantity, updated_at=now)
            .returning(StockLevel.on_hand, StockLevel.held),
            execution_options=_NO_SYNC,
        )
        row = result.first()
        if row is None:
            raise _insufficient(level, line.quantity)
        level.on_hand, level.held = row
        hold = Hold(
            merchant_id=tenant.id,
            public_id=new_public_id("hld"),
            stock_level_id=level.id,
            quantity=line.quantity,
            reason=reason.value,
            reference=reference,
            status=HoldStatus.ACTIVE.value,
            actor=actor,
            expires_at=now + ttl,
            created_at=now,
        )
        session.add(hold)
        holds.append(hold)
    await session.flush()
    await _write_ledger(
        session,
        [
            _movement(
                locked[h.stock_level_id],
                MovementKind.HOLD,
                actor=actor,
                at=now,
                held=h.quantity,
                hold_id=h.id,
                reason=reason.value,
            )
            for h in holds
        ],
    )
    return holds


async def place_hold(
    session: AsyncSession,
    tenant: Tenant,
    *,
    sku_id: int,
    location_id: int,
    quantity: int,
    ttl: timedelta,
    reason: HoldReason | str,
    reference: str,
    actor: str,
) -> Hold:
    """Hold ``quantity`` units of a SKU at a location until ``now + ttl``.

    The units stop being available at once and come back if the hold is released or
    lapses. Raises 409 ``insufficient_stock`` when more than available is asked (nothing
    changes), 422 ``hold_ttl_out_of_range`` for a ttl outside 1 s – 7 days, 422 for a
    quantity that is not a whole number from 1, 404 for another merchant's SKU/location.
    """
    holds = await place_holds(
        session,
        tenant,
        [HoldLine(sku_id, location_id, quantity)],
        ttl=ttl,
        reason=reason,
        reference=reference,
        actor=actor,
    )
    return holds[0]


async def _end_hold(
    session: AsyncSession,
    tenant: Tenant,
    hold_id: int,
    target: HoldStatus,
    *,
    actor: str,
    reason: str = "",
) -> Hold:
    """Move an active hold to ``target`` and give back (release) or ship (consume) units."""
    actor = _check_actor(actor)
    level_id = await session.scalar(
        select(Hold.stock_level_id).where(Hold.merchant_id == tenant.id, Hold.id == hold_id)
    )
    if level_id is None:
        raise NotFound("No such hold")
    now = clock.now()
    (level,) = await _lock(session, StockLevel.id == level_id)
    await _lapse_due(session, level, now)  # an expired hold becomes lapsed, not released
    result = await session.execute(
        update(Hold)
        .where(
            Hold.id == hold_id,
            Hold.status.in_([s.value for s in sources_of(target)]),
            Hold.expires_at > now,
        )
        .values(status=target.value, ended_at=now)
        .returning(Hold.quantity),
        execution_options=_NO_SYNC,
    )
    row = result.first()
    if row is None:
        current = await session.scalar(select(Hold.status).where(Hold.id == hold_id))
        check_transition(HoldStatus(current), target)
        raise RuntimeError(f"hold {hold_id} could not move to {target.value}")
    quantity = int(row[0])
    before = (level.on_hand, level.held)
    level.held -= quantity
    shipped = -quantity if target is HoldStatus.CONSUMED else 0
    level.on_hand += shipped
    await _set_counts(session, level, on_hand=before[0], held=before[1])
    kind = MovementKind.CONSUME if target is HoldStatus.CONSUMED else MovementKind.RELEASE
    await _write_ledger(
        session,
        [
            _movement(
                level,
                kind,
                actor=actor,
                at=now,
                on_hand=shipped,
                held=-quantity,
                hold_id=hold_id,
                reason=reason,
            )
        ],
    )
    return await _reload(session, hold_id)


async def _reload(session: AsyncSession, hold_id: int) -> Hold:
    hold: Hold = await session.scalar(
        select(Hold).where(Hold.id == hold_id).execution_options(populate_existing=True)
    )
    return hold


async def release_hold(
    session: AsyncSession, tenant: Tenant, hold_id: int, *, actor: str, reason: str = ""
) -> Hold:
    """Give an active hold's units back to available stock.

    Raises 409 ``illegal_transition`` if the hold is consumed, released or lapsed (an
    expired hold is lapsed), 404 for another merchant's hold.
    """
    return await _end_hold(
        session, tenant, hold_id, HoldStatus.RELEASED, actor=actor, reason=reason
    )


async def consume_hold(
    session: AsyncSession, tenant: Tenant, hold_id: int, *, actor: str, reason: str = ""
) -> Hold:
    """Turn an active hold into a sale: ``on_hand`` and ``held`` both drop by its quantity.

    Raises 409 ``illegal_transition`` if the hold is consumed, released or lapsed (an
    expired hold is lapsed: place a new hold), 404 for another merchant's hold.
    """
    return await _end_hold(
        session, tenant, hold_id, HoldStatus.CONSUMED, actor=actor, reason=reason
    )


async def extend_hold(
    session: AsyncSession, tenant: Tenant, hold_id: int, *, ttl: timedelta, actor: str
) -> Hold:
    """Move an active hold's expiry to ``now + ttl`` (a customer's visit moved).

    Raises 409 ``illegal_transition`` if the hold is no longer active (expired included),
    422 ``hold_ttl_out_of_range``, 404 for another merchant's hold.
    """
    check_ttl(ttl)
    actor = _check_actor(actor)
    level_id = await session.scalar(
        select(Hold.stock_level_id).where(Hold.merchant_id == tenant.id, Hold.id == hold_id)
    )
    if level_id is None:
        raise NotFound("No such hold")
    now = clock.now()
    (level,) = await _lock(session, StockLevel.id == level_id)
    await _lapse_due(session, level, now)
    result = await session.execute(
        update(Hold)
        .where(
            Hold.id == hold_id,
            Hold.status == HoldStatus.ACTIVE.value,
            Hold.expires_at > now,
        )
        .values(expires_at=now + ttl),
        execution_options=_NO_SYNC,
    )
    if getattr(result, "rowcount", 0) != 1:
        current = await session.scalar(select(Hold.status).where(Hold.id == hold_id))
        check_transition(HoldStatus(current), HoldStatus.ACTIVE)
    await _write_ledger(
        session,
        [
            _movement(
                level,
                MovementKind.EXTEND,
                actor=actor,
                at=now,
                hold_id=hold_id,
                reason=f"until {(now + ttl).isoformat()}",
            )
        ],
    )
    return await _reload(session, hold_id)


async def lapse_expired(
    session: AsyncSession,
    tenant: Tenant | None = None,
    now: datetime | None = None,
    *,
    max_levels: int = 200,
) -> int:
    """Record the lapse of holds whose time is up, for one merchant or all (``None``).

    Works on at most ``max_levels`` stock levels per call (locked in id order); returns
    how many holds lapsed, so a sweeper calls it until it returns 0.
    """
    now = now or clock.now()
    stmt = (
        select(Hold.stock_level_id)
        .where(Hold.status == HoldStatus.ACTIVE.value, Hold.expires_at <= now)
        .group_by(Hold.stock_level_id)
        .order_by(Hold.stock_level_id)
        .limit(max_levels)
    )
    if tenant is not None:
        stmt = stmt.where(Hold.merchant_id == tenant.id)
    level_ids = list((await session.scalars(stmt)).all())
    if not level_ids:
        return 0
    lapsed = 0
    for level in await _lock(session, StockLevel.id.in_(level_ids)):
        # A writer may have lapsed some while we waited for the lock: they are skipped.
        lapsed += await _lapse_due(session, level, now)
    return lapsed
