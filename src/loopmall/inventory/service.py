"""Stock operations: receive, adjust and count (stocktake); and, re-exported from
:mod:`loopmall.inventory.holds`, the hold operations checkout calls.

See :mod:`loopmall.inventory.levels` for how the invariants are kept under concurrency.
Services flush but never commit; if one raises, the caller rolls back.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Sku
from loopmall.core import clock
from loopmall.core.errors import OutOfRange, ValidationFailed
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant
from loopmall.inventory.events import StockAdjusted
from loopmall.inventory.holds import (
    HoldLine,
    consume_hold,
    extend_hold,
    lapse_expired,
    place_hold,
    place_holds,
    release_hold,
)
from loopmall.inventory.levels import (
    NO_SYNC,
    Level,
    announce_crossing,
    check_actor,
    check_reason,
    insufficient,
    lapse_due,
    lock_level,
    movement,
    set_counts,
    write_ledger,
)
from loopmall.inventory.models import Location, StockLevel
from loopmall.inventory.repository import StockView, availability, stock_by_location, stock_for_sku
from loopmall.inventory.rules import MAX_UNITS, BelowHeld, MovementKind, StockLimitExceeded

__all__ = [
    "HoldLine",
    "StockView",
    "adjust_stock",
    "availability",
    "consume_hold",
    "extend_hold",
    "lapse_expired",
    "place_hold",
    "place_holds",
    "release_hold",
    "set_stock",
    "stock_by_location",
    "stock_for_sku",
]


async def adjust_stock(
    session: AsyncSession,
    tenant: Tenant,
    *,
    sku_id: int,
    location_id: int,
    delta: int,
    reason: str,
    actor: str,
    kind: MovementKind | str = MovementKind.ADJUST,
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
    if kind not in (MovementKind.ADJUST.value, MovementKind.RECEIVE.value):
        raise ValidationFailed("kind must be adjust or receive", field="kind")
    kind = MovementKind(kind)
    if kind is MovementKind.RECEIVE and delta < 0:
        raise ValidationFailed(
            "A receipt adds units: delta must be positive", field="delta", kind="receive"
        )
    reason, actor = check_reason(reason), check_actor(actor)
    now = clock.now()
    level = await lock_level(session, tenant, sku_id, location_id, create=delta > 0, now=now)
    if level is None:
        raise insufficient(None, -delta)
    await lapse_due(session, level, now)
    if delta < 0 and level.on_hand - level.held < -delta:
        raise insufficient(level, -delta)
    if level.on_hand + delta > MAX_UNITS:
        raise StockLimitExceeded(
            f"A location holds at most {MAX_UNITS} units of a SKU", most=MAX_UNITS
        )
    result = await session.execute(
        update(StockLevel)
        .where(
            StockLevel.id == level.id,
            StockLevel.on_hand + delta >= StockLevel.held,
            StockLevel.on_hand + delta <= MAX_UNITS,
        )
        .values(on_hand=StockLevel.on_hand + delta, updated_at=now)
        .returning(StockLevel.on_hand, StockLevel.held),
        execution_options=NO_SYNC,
    )
    row = result.first()
    if row is None:
        raise insufficient(level, -delta)
    level.on_hand, level.held = row
    await write_ledger(
        session, [movement(level, kind, actor=actor, at=now, on_hand=delta, reason=reason)]
    )
    await announce_crossing(session, level, level.on_hand - level.held - delta)
    await _announce(session, level, kind, delta, reason=reason, actor=actor)
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
        raise OutOfRange(
            f"on_hand must be between 0 and {MAX_UNITS}", field="on_hand", low=0, high=MAX_UNITS
        )
    reason, actor = check_reason(reason), check_actor(actor)
    now = clock.now()
    level = await lock_level(session, tenant, sku_id, location_id, create=True, now=now)
    assert level is not None
    await lapse_due(session, level, now)
    if on_hand < level.held:
        raise BelowHeld(
            f"{level.held} units are held for customers; the count cannot be below that",
            held=level.held,
        )
    delta = on_hand - level.on_hand
    before = level.on_hand
    level.on_hand = on_hand
    await set_counts(session, level, on_hand=before)
    await announce_crossing(session, level, before - level.held)
    await write_ledger(
        session,
        [movement(level, MovementKind.COUNT, actor=actor, at=now, on_hand=delta, reason=reason)],
    )
    if delta:  # a count that confirms the number changes nothing a stock sync needs
        await _announce(session, level, MovementKind.COUNT, delta, reason=reason, actor=actor)
    return level.view()


async def _announce(
    session: AsyncSession, level: Level, kind: MovementKind, delta: int, *, reason: str, actor: str
) -> None:
    """``stock.adjusted`` in the transaction of the change, with the public ids a merchant's
    system knows the SKU and the location by."""
    sku, location = (
        await session.execute(
            select(
                select(Sku.public_id).where(Sku.id == level.sku_id).scalar_subquery(),
                select(Location.public_id)
                .where(Location.id == level.location_id)
                .scalar_subquery(),
            )
        )
    ).one()
    await publish(
        session,
        StockAdjusted(
            merchant_id=level.merchant_id,
            sku_id=level.sku_id,
            sku_public_id=sku,
            location_id=level.location_id,
            location_public_id=location,
            kind=kind.value,
            delta=delta,
            on_hand=level.on_hand,
            held=level.held,
            available=level.on_hand - level.held,
            reason=reason,
            actor=actor,
        ),
    )
