"""What an order does to stock: hold at checkout, sell when paid (or shipped, for cash on
delivery), give back when cancelled. All through inventory's holds, never its tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.errors import IllegalTransition
from loopmall.core.tenancy import Tenant
from loopmall.inventory.holds import HoldLine, consume_hold, place_holds, release_hold
from loopmall.inventory.models import Hold
from loopmall.inventory.rules import MAX_HOLD_TTL, HoldReason
from loopmall.orders.models import Order, OrderLine

# A payment can arrive a little after the order's time ran out (the callback was late or
# retried); the holds outlive the order by this much so such a payment still finds them.
HOLD_GRACE = timedelta(minutes=10)
# Cash-on-delivery orders wait for the courier, not for a payment: hold as long as allowed.
COD_HOLD_TTL = MAX_HOLD_TTL
SYSTEM = "system"


def hold_ttl(unpaid_ttl_seconds: int, *, cod: bool) -> timedelta:
    if cod:
        return COD_HOLD_TTL
    return min(timedelta(seconds=unpaid_ttl_seconds) + HOLD_GRACE, MAX_HOLD_TTL)


async def hold_lines(
    session: AsyncSession,
    tenant: Tenant,
    order: Order,
    lines: Sequence[OrderLine],
    *,
    ttl: timedelta,
    actor: str,
) -> None:
    """Hold every line at the order's location, or raise 409 ``insufficient_stock``."""
    assert order.location_id is not None
    holds = await place_holds(
        session,
        tenant,
        [HoldLine(line.sku_id, order.location_id, line.quantity) for line in lines],
        ttl=ttl,
        reason=HoldReason.ORDER,
        reference=order.public_id,
        actor=actor,
    )
    for line, hold in zip(lines, holds, strict=True):
        line.hold_id = hold.id


async def in_level_order(session: AsyncSession, lines: Sequence[OrderLine]) -> list[OrderLine]:
    """The lines sorted by the stock level their hold sits on. Consuming or releasing holds
    locks their levels one by one until the commit; doing it in level-id order (as
    inventory locks them) means two orders sharing levels never wait on each other in a
    circle (a deadlock on PostgreSQL). One read of inventory's holds, never a write."""
    hold_ids = [line.hold_id for line in lines if line.hold_id is not None]
    levels: dict[int, int] = {}
    if len(hold_ids) > 1:
        rows = await session.execute(
            select(Hold.id, Hold.stock_level_id).where(Hold.id.in_(hold_ids))
        )
        levels = {hold_id: level_id for hold_id, level_id in rows.all()}
    return sorted(lines, key=lambda line: (levels.get(line.hold_id or 0, 0), line.id or 0))


async def sell_lines(
    session: AsyncSession, tenant: Tenant, order: Order, lines: Sequence[OrderLine]
) -> None:
    """Turn the order's holds into sales. A hold that lapsed meanwhile is replaced by a new
    one taken now (and sold at once) when the units are still free; otherwise 409
    ``insufficient_stock`` — the caller decides what that means (a savepoint keeps the
    partial work from sticking)."""
    for line in await in_level_order(session, lines):
        if line.hold_id is not None:
            try:
                await consume_hold(
                    session, tenant, line.hold_id, actor=SYSTEM, reason=order.public_id
                )
                continue
            except IllegalTransition:
                pass  # lapsed (or released): take the units again below
        assert order.location_id is not None
        (hold,) = await place_holds(
            session,
            tenant,
            [HoldLine(line.sku_id, order.location_id, line.quantity)],
            ttl=timedelta(minutes=1),
            reason=HoldReason.ORDER,
            reference=order.public_id,
            actor=SYSTEM,
        )
        await consume_hold(session, tenant, hold.id, actor=SYSTEM, reason=order.public_id)
        line.hold_id = hold.id


async def release_lines(
    session: AsyncSession, tenant: Tenant, lines: Sequence[OrderLine], *, reason: str
) -> None:
    """Give the units of the order's holds back; holds that already lapsed are skipped."""
    for line in await in_level_order(session, lines):
        if line.hold_id is None:
            continue
        try:
            await release_hold(session, tenant, line.hold_id, actor=SYSTEM, reason=reason)
        except IllegalTransition:
            pass  # lapsed already: its units are back
