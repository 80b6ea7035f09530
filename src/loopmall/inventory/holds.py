"""Holds: units promised to a customer or an unpaid order until they expire.

A hold is placed (``active``), then consumed (sold), released, or lapses when its time is
up; ``rules.HOLDS`` lists the allowed moves. Placing a hold on several levels
locks them in id order; every operation first records the lapse of the level's due holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant
from loopmall.inventory.levels import (
    NO_SYNC,
    announce_crossing,
    check_actor,
    ensure_level,
    insufficient,
    lapse_due,
    lock,
    lock_for_hold,
    lock_level,
    movement,
    set_counts,
    write_ledger,
)
from loopmall.inventory.models import Hold, StockLevel
from loopmall.inventory.rules import (
    HOLDS,
    HoldReason,
    HoldStatus,
    MovementKind,
    check_quantity,
    check_ttl,
    clean_text,
)

# The hold a conditional UPDATE returns, with its new values even if the session had it.
RETURN_FRESH = {"synchronize_session": False, "populate_existing": True}


@dataclass(frozen=True, slots=True)
class HoldLine:
    """One line of a multi-line hold (a checkout's cart): ``quantity`` of a SKU somewhere."""

    sku_id: int
    location_id: int
    quantity: int


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
    actor = check_actor(actor)
    reference = clean_text(reference, field="reference", max_length=100, required=False)
    now = clock.now()

    wanted: dict[tuple[int, int], int] = defaultdict(int)
    for line in lines:
        wanted[(line.sku_id, line.location_id)] += line.quantity
    ids: dict[tuple[int, int], int] = {}
    if len(wanted) == 1:
        ((sku_id, location_id),) = wanted
        level = await lock_level(session, tenant, sku_id, location_id, create=True, now=now)
        assert level is not None
        ids[(sku_id, location_id)] = level.id
        locked = {level.id: level}
    else:
        # Make missing levels without locking any, then lock them all in id order: two
        # carts holding the same SKUs in another order cannot deadlock.
        for sku_id, location_id in wanted:
            ids[(sku_id, location_id)] = await ensure_level(session, tenant, sku_id, location_id)
        locked = {lv.id: lv for lv in await lock(session, StockLevel.id.in_(ids.values()), now=now)}

    for level in locked.values():
        await lapse_due(session, level, now)
    for key, quantity in wanted.items():
        level = locked[ids[key]]
        if level.on_hand - level.held < quantity:
            error = insufficient(level, quantity)
            error.extra.update(sku_id=key[0], location_id=key[1])
            raise error

    rows: list[dict[str, object]] = []
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
            execution_options=NO_SYNC,
        )
        row = result.first()
        if row is None:
            raise insufficient(level, line.quantity)
        level.on_hand, level.held = row
        await announce_crossing(session, level, level.on_hand - level.held + line.quantity)
        rows.append(
            {
                "merchant_id": tenant.id,
                "public_id": new_public_id("hld"),
                "stock_level_id": level.id,
                "quantity": line.quantity,
                "reason": reason.value,
                "reference": reference,
                "status": HoldStatus.ACTIVE.value,
                "actor": actor,
                "expires_at": now + ttl,
                "created_at": now,
            }
        )
    # One INSERT … RETURNING for every line (an ORM flush costs more than the statement).
    inserted = await session.scalars(
        insert(Hold).returning(Hold, sort_by_parameter_order=True), rows
    )
    # SQLAlchemy's stubs type a bulk INSERT's returned entities loosely; they are Holds.
    holds = cast(list[Hold], list(inserted.all()))
    await write_ledger(
        session,
        [
            movement(
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
    actor = check_actor(actor)
    now = clock.now()
    level = await lock_for_hold(session, tenant, hold_id, now=now)
    await lapse_due(session, level, now)  # an expired hold becomes lapsed, not released
    result = await session.execute(
        update(Hold)
        .where(
            Hold.id == hold_id,
            Hold.status.in_(HOLDS.sources_of(target)),
            Hold.expires_at > now,
        )
        .values(status=target.value, ended_at=now)
        .returning(Hold),
        execution_options=RETURN_FRESH,
    )
    hold = result.scalars().first()
    if hold is None:
        current = await session.scalar(select(Hold.status).where(Hold.id == hold_id))
        HOLDS.check(str(current), target)
        raise RuntimeError(f"hold {hold_id} could not move to {target.value}")
    quantity = hold.quantity
    before = (level.on_hand, level.held)
    level.held -= quantity
    shipped = -quantity if target is HoldStatus.CONSUMED else 0
    level.on_hand += shipped
    await set_counts(session, level, on_hand=before[0], held=before[1])
    await announce_crossing(session, level, before[0] - before[1])
    kind = MovementKind.CONSUME if target is HoldStatus.CONSUMED else MovementKind.RELEASE
    await write_ledger(
        session,
        [
            movement(
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
    actor = check_actor(actor)
    now = clock.now()
    level = await lock_for_hold(session, tenant, hold_id, now=now)
    await lapse_due(session, level, now)
    result = await session.execute(
        update(Hold)
        .where(
            Hold.id == hold_id,
            Hold.status == HoldStatus.ACTIVE.value,
            Hold.expires_at > now,
        )
        .values(expires_at=now + ttl)
        .returning(Hold),
        execution_options=RETURN_FRESH,
    )
    hold = result.scalars().first()
    if hold is None:
        current = await session.scalar(select(Hold.status).where(Hold.id == hold_id))
        HOLDS.check(str(current), HoldStatus.ACTIVE)
        raise RuntimeError(f"hold {hold_id} could not be extended")
    await write_ledger(
        session,
        [
            movement(
                level,
                MovementKind.EXTEND,
                actor=actor,
                at=now,
                hold_id=hold_id,
                reason=f"until {(now + ttl).isoformat()}",
            )
        ],
    )
    return hold


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
    for level in await lock(session, StockLevel.id.in_(level_ids), now=now):
        # A writer may have lapsed some while we waited for the lock: they are skipped.
        lapsed += await lapse_due(session, level, now)
    return lapsed
