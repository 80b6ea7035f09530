"""Fittings: a time slot at the store with the guide, in the store's open hours, one
booking per slot; the customer hears of it on booking and again before it starts; at the
fitting the guide sells the held item, releases it, or records a no-show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant, scoped
from loopmall.guides import holds
from loopmall.guides.events import FittingBooked, FittingEvent, FittingReminder
from loopmall.guides.models import Fitting, GuideHold
from loopmall.guides.rules import (
    FITTING_HORIZON_DAYS,
    OUTCOME_OF_HOLD,
    FittingClosedHour,
    FittingSlotInvalid,
    FittingSlotTaken,
    FittingStatus,
    FittingTooFarAhead,
    HoldEndsBeforeFitting,
    HoldNotActive,
    HoldOutcome,
    check_fitting_move,
)
from loopmall.guides.staffing import get_settings, in_scope, store_by_id
from loopmall.merchants.hours import is_open
from loopmall.merchants.models import Store
from loopmall.orders.models import Order
from loopmall.orders.store_discount import DiscountAsk
from loopmall.staff.models import Staff


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    taken: bool


def store_open(store: Store, start: datetime, end: datetime) -> bool:
    """Whether the store is open for the whole of [start, end) (local time). A store with
    no hours given is taken to be open; a closed store never is."""
    if store.status != "open":
        return False
    hours = store.opening_hours or {}
    if not hours:
        return True
    last = end - timedelta(minutes=1)
    return is_open(hours, clock.local(start)) and is_open(hours, clock.local(last))


def _on_grid(local: datetime, slot_minutes: int) -> bool:
    minutes = local.hour * 60 + local.minute
    return local.second == 0 and local.microsecond == 0 and minutes % slot_minutes == 0


async def slots(
    session: AsyncSession, tenant: Tenant, *, guide_staff_id: int, store_id: int, day: date
) -> list[Slot]:
    """The open slots of a local day at the store, each marked taken or free."""
    settings = await get_settings(session, tenant)
    store = await store_by_id(session, tenant, store_id)
    step = timedelta(minutes=settings.slot_minutes)
    start = datetime.combine(day, time(0), tzinfo=clock.SHANGHAI).astimezone(UTC)
    end = start + timedelta(days=1)
    taken = set(
        (
            await session.scalars(
                select(Fitting.slot_at).where(
                    Fitting.merchant_id == tenant.id,
                    Fitting.guide_staff_id == guide_staff_id,
                    Fitting.slot_at >= start,
                    Fitting.slot_at < end,
                )
            )
        ).all()
    )
    now = clock.now()
    found: list[Slot] = []
    at = start
    while at < end:
        if at > now and store_open(store, at, at + step):
            found.append(Slot(at, at in taken))
        at += step
    return found


async def book(
    session: AsyncSession,
    tenant: Tenant,
    *,
    guide_staff_id: int,
    customer_id: int,
    store_id: int,
    starts_at: datetime,
    guide_hold: GuideHold | None = None,
    note: str = "",
) -> Fitting:
    """Book a fitting for the customer at the store with the guide.

    Raises 422 ``fitting_slot_invalid`` for a time off the slot grid, in the past or too
    far ahead; 422 ``fitting_closed_hour`` when the store is closed for any of the slot;
    409 ``fitting_slot_taken`` when the guide has that slot booked (also under a race: the
    unique slot index decides). Publishes ``fitting.booked``."""
    if starts_at.tzinfo is None:
        raise FittingSlotInvalid("Give the time with its UTC offset", field="starts_at")
    settings = await get_settings(session, tenant)
    now = clock.now()
    local = clock.local(starts_at)
    if not _on_grid(local, settings.slot_minutes):
        raise FittingSlotInvalid(
            f"Fittings start every {settings.slot_minutes} minutes",
            field="starts_at",
            slot_minutes=settings.slot_minutes,
        )
    if starts_at <= now or starts_at > now + timedelta(days=FITTING_HORIZON_DAYS):
        raise FittingTooFarAhead(
            f"A fitting is booked in the next {FITTING_HORIZON_DAYS} days",
            field="starts_at",
            days=FITTING_HORIZON_DAYS,
        )
    if guide_hold is not None and guide_hold.customer_id != customer_id:
        raise NotFound("No such hold")
    if guide_hold is not None and (
        guide_hold.status != HoldOutcome.ACTIVE or guide_hold.order_id is not None
    ):
        raise HoldNotActive("The hold has ended", hold=guide_hold.public_id)
    if guide_hold is not None and guide_hold.expires_at < starts_at:
        raise HoldEndsBeforeFitting(
            "Hold the item until the fitting (or book an earlier slot)",
            field="hold",
            hold_expires_at=guide_hold.expires_at.isoformat(),
        )
    store = await store_by_id(session, tenant, store_id)
    ends_at = starts_at + timedelta(minutes=settings.slot_minutes)
    if not store_open(store, starts_at, ends_at):
        raise FittingClosedHour(
            "The store is closed at that time", field="starts_at", store=store.public_id
        )
    clash = await session.scalar(
        select(Fitting.id).where(
            Fitting.merchant_id == tenant.id,
            Fitting.guide_staff_id == guide_staff_id,
            Fitting.slot_at == starts_at,
        )
    )
    if clash is not None:
        raise FittingSlotTaken("That slot is already booked")
    fitting = Fitting(
        merchant_id=tenant.id,
        public_id=new_public_id("fit"),
        customer_id=customer_id,
        guide_staff_id=guide_staff_id,
        store_id=store.id,
        guide_hold_id=guide_hold.id if guide_hold is not None else None,
        starts_at=starts_at,
        ends_at=ends_at,
        slot_at=starts_at,
        status=FittingStatus.BOOKED.value,
        note=note,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(fitting)
            await session.flush()
    except IntegrityError:
        raise FittingSlotTaken("That slot is already booked") from None
    await _announce(session, tenant, fitting, FittingBooked, store=store, hold=guide_hold)
    return fitting


async def _announce(
    session: AsyncSession,
    tenant: Tenant,
    fitting: Fitting,
    kind: type[FittingEvent],
    *,
    store: Store | None = None,
    hold: GuideHold | None = None,
) -> None:
    if store is None:
        store = await store_by_id(session, tenant, fitting.store_id)
    if hold is None and fitting.guide_hold_id is not None:
        hold = await holds.get_by_id(session, tenant, fitting.guide_hold_id)
    guide = await session.scalar(select(Staff.name).where(Staff.id == fitting.guide_staff_id))
    await publish(session, kind(**payload(tenant, fitting, store, str(guide or ""), hold)))


def payload(
    tenant: Tenant, fitting: Fitting, store: Store, guide_name: str, hold: GuideHold | None
) -> dict[str, Any]:
    """The body of ``fitting.booked`` / ``fitting.reminder``."""
    return {
        "merchant_id": tenant.id,
        "fitting_id": fitting.id,
        "fitting_public_id": fitting.public_id,
        "customer_id": fitting.customer_id,
        "store_id": store.id,
        "store_name": store.name,
        "store_address": store.address,
        "guide_staff_id": fitting.guide_staff_id,
        "guide_name": guide_name,
        "starts_at": fitting.starts_at,
        "title": hold.title if hold is not None else "",
    }


async def get(
    session: AsyncSession,
    tenant: Tenant,
    public_id: str,
    *,
    guide_staff_id: int | None = None,
    store_ids: frozenset[int] | None = None,
) -> Fitting:
    return await in_scope(
        session,
        tenant,
        Fitting,
        public_id,
        guide_staff_id=guide_staff_id,
        store_ids=store_ids,
        missing="No such fitting",
    )


async def end(
    session: AsyncSession,
    tenant: Tenant,
    fitting: Fitting,
    outcome: FittingStatus,
    *,
    actor: str,
    discount: DiscountAsk | None = None,
    given_by_staff_id: int | None = None,
) -> Order | None:
    """End a booked fitting: ``sold`` rings its hold up as a store sale (``holds.sell``:
    the pipeline's price less the ``discount`` asked for; the order is returned, unpaid
    until the till records the money); ``released``, ``no_show`` and ``cancelled`` give
    the held units back (a cancelled booking frees its slot). Raises 409
    ``illegal_transition`` for a fitting that already ended, 422 when selling a fitting
    with no hold, or a discount with another outcome."""
    if discount is not None and outcome is not FittingStatus.SOLD:
        raise ValidationFailed("Only a sale takes a discount", field="discount")
    check_fitting_move(fitting.status, outcome)
    row = (
        await holds.get_by_id(session, tenant, fitting.guide_hold_id)
        if fitting.guide_hold_id is not None
        else None
    )
    order = None
    if outcome is FittingStatus.SOLD:
        if row is None:
            raise ValidationFailed("This fitting has no held item to sell", field="outcome")
        order = await holds.sell(
            session,
            tenant,
            row,
            actor=actor,
            discount=discount,
            given_by_staff_id=given_by_staff_id,
        )
        fitting.order_id = order.id
    elif row is not None and row.status == HoldOutcome.ACTIVE:
        await holds.give_back(session, tenant, row, OUTCOME_OF_HOLD[outcome], actor=actor)
    if outcome is FittingStatus.CANCELLED:
        fitting.slot_at = None
    fitting.status = outcome.value
    fitting.ended_at = clock.now()
    await session.flush()
    return order


async def remind_due(session: AsyncSession, *, lead_seconds: int, limit: int = 200) -> int:
    """Publish ``fitting.reminder`` once for each booked fitting starting within
    ``lead_seconds`` (every merchant); how many. The row is marked first under a
    conditional check, so two sweepers never remind twice."""
    from loopmall.merchants.models import Merchant

    now = clock.now()
    rows = (
        await session.execute(
            select(Fitting, Merchant.slug)
            .join(Merchant, Merchant.id == Fitting.merchant_id)
            .where(
                Fitting.status == FittingStatus.BOOKED.value,
                Fitting.reminded_at.is_(None),
                Fitting.starts_at > now,
                Fitting.starts_at <= now + timedelta(seconds=lead_seconds),
            )
            .order_by(Fitting.id)
            .limit(limit)
            .with_for_update(of=Fitting, skip_locked=True)
        )
    ).all()
    for fitting, slug in rows:
        fitting.reminded_at = now
        await _announce(session, Tenant(fitting.merchant_id, slug), fitting, FittingReminder)
    await session.flush()
    return len(rows)


async def upcoming(
    session: AsyncSession,
    tenant: Tenant,
    *,
    guide_staff_id: int | None = None,
    customer_id: int | None = None,
    limit: int = 50,
) -> list[Fitting]:
    stmt = scoped(Fitting, tenant, Fitting.status == FittingStatus.BOOKED.value)
    if guide_staff_id is not None:
        stmt = stmt.where(Fitting.guide_staff_id == guide_staff_id)
    if customer_id is not None:
        stmt = stmt.where(Fitting.customer_id == customer_id)
    return list((await session.scalars(stmt.order_by(Fitting.starts_at).limit(limit))).all())


async def hand_over(
    session: AsyncSession, tenant: Tenant, *, from_staff_id: int, to_staff_id: int
) -> int:
    """Give a leaving guide's booked fittings to another guide (the store stays); a fitting
    whose slot the new guide has booked already stays with the leaving one. How many moved."""
    mine = list(
        (
            await session.scalars(
                scoped(
                    Fitting,
                    tenant,
                    Fitting.guide_staff_id == from_staff_id,
                    Fitting.status == FittingStatus.BOOKED.value,
                ).order_by(Fitting.id)
            )
        ).all()
    )
    if not mine:
        return 0
    taken = set(
        (
            await session.scalars(
                select(Fitting.slot_at).where(
                    Fitting.merchant_id == tenant.id,
                    Fitting.guide_staff_id == to_staff_id,
                    Fitting.slot_at.in_([f.starts_at for f in mine]),
                )
            )
        ).all()
    )
    moved = 0
    for fitting in mine:
        if fitting.starts_at in taken:
            continue
        fitting.guide_staff_id = to_staff_id
        moved += 1
    await session.flush()
    return moved
