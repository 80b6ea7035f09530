"""Who the guides are, where they work, and the merchant's guide settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.valueset import one_of
from loopmall.guides.models import Fitting, GuideHold, GuideSettings
from loopmall.guides.rules import (
    DEFAULT_MAX_HOLD_SECONDS,
    DEFAULT_SLOT_MINUTES,
    HOLD_CEILING_SECONDS,
    NotAGuide,
)
from loopmall.identity.permissions import Role
from loopmall.merchants.models import Store
from loopmall.staff.models import Staff, StaffStore

# Who may serve customers on the workbench.
GUIDE_ROLES = (Role.GUIDE.value, Role.STORE_MANAGER.value)
SLOT_CHOICES = (15, 20, 30, 45, 60, 90, 120)


async def guide_store(session: AsyncSession, tenant: Tenant, staff_id: int) -> int | None:
    """The store a guide works in (the first assigned), or None."""
    found: int | None = await session.scalar(
        select(StaffStore.store_id)
        .where(StaffStore.merchant_id == tenant.id, StaffStore.staff_id == staff_id)
        .order_by(StaffStore.id)
        .limit(1)
    )
    return found


async def require_guide(session: AsyncSession, tenant: Tenant, staff_id: int) -> Staff:
    """The active guide (or store manager) ``staff_id``; 422 ``not_a_guide`` otherwise."""
    staff: Staff | None = await session.scalar(
        scoped(Staff, tenant, Staff.id == staff_id, Staff.active.is_(True))
    )
    if staff is None or staff.role not in GUIDE_ROLES:
        raise NotAGuide("That staff member is not a guide of this merchant")
    return staff


async def staff_by_public_id(session: AsyncSession, tenant: Tenant, public_id: str) -> Staff:
    staff: Staff | None = await session.scalar(scoped(Staff, tenant, Staff.public_id == public_id))
    if staff is None:
        raise NotFound("No such staff member")
    return staff


async def store_by_public_id(session: AsyncSession, tenant: Tenant, public_id: str) -> Store:
    store: Store | None = await session.scalar(scoped(Store, tenant, Store.public_id == public_id))
    if store is None:
        raise NotFound("No such store")
    return store


async def store_by_id(session: AsyncSession, tenant: Tenant, store_id: int) -> Store:
    store: Store | None = await session.scalar(scoped(Store, tenant, Store.id == store_id))
    if store is None:
        raise NotFound("No such store")
    return store


# What a guide or store manager may look up by public id (see guides.access.scope_of).
InScope = TypeVar("InScope", GuideHold, Fitting)


async def in_scope(
    session: AsyncSession,
    tenant: Tenant,
    model: type[InScope],
    public_id: str,
    *,
    guide_staff_id: int | None = None,
    store_ids: frozenset[int] | None = None,
    missing: str,
) -> InScope:
    """The ``model`` row with this public id, kept to the guide's own (``guide_staff_id``)
    and to the stores in ``store_ids`` when given; NotFound(``missing``) otherwise (another
    merchant's too)."""
    stmt = scoped(model, tenant, model.public_id == public_id)
    if guide_staff_id is not None:
        stmt = stmt.where(model.guide_staff_id == guide_staff_id)
    if store_ids is not None:
        stmt = stmt.where(one_of(model.store_id, store_ids))
    found: InScope | None = await session.scalar(stmt)
    if found is None:
        raise NotFound(missing)
    return found


@dataclass(frozen=True)
class GuideRow:
    staff: Staff
    store: Store | None


PICK_PAGE = 50


async def guides_page(
    session: AsyncSession,
    tenant: Tenant,
    *,
    store_ids: frozenset[int] | None = None,
    after_id: int = 0,
    limit: int,
) -> list[GuideRow]:
    """Up to ``limit`` active guides and store managers after ``after_id`` (by id), with
    their first store; store-scoped viewers see those working in one of their stores."""
    stmt = scoped(
        Staff, tenant, Staff.active.is_(True), Staff.role.in_(GUIDE_ROLES), Staff.id > after_id
    )
    if store_ids is not None:
        stmt = stmt.where(
            select(StaffStore.id)
            .where(
                StaffStore.merchant_id == tenant.id,
                StaffStore.staff_id == Staff.id,
                one_of(StaffStore.store_id, store_ids),
            )
            .exists()
        )
    staff = list((await session.scalars(stmt.order_by(Staff.id).limit(limit))).all())
    if not staff:
        return []
    first = (
        select(func.min(StaffStore.id))
        .where(
            StaffStore.merchant_id == tenant.id,
            one_of(StaffStore.staff_id, [s.id for s in staff]),
        )
        .group_by(StaffStore.staff_id)
    )
    rows = await session.execute(
        select(StaffStore.staff_id, Store)
        .join(Store, Store.id == StaffStore.store_id)
        .where(StaffStore.id.in_(first))
    )
    stores = {staff_id: store for staff_id, store in rows.all()}
    return [GuideRow(s, stores.get(s.id)) for s in staff]


async def get_settings(session: AsyncSession, tenant: Tenant) -> GuideSettings:
    """The merchant's guide settings (defaults until saved; not written by reading)."""
    row: GuideSettings | None = await session.scalar(scoped(GuideSettings, tenant))
    if row is not None:
        return row
    return GuideSettings(
        merchant_id=tenant.id,
        max_hold_seconds=DEFAULT_MAX_HOLD_SECONDS,
        slot_minutes=DEFAULT_SLOT_MINUTES,
        updated_at=clock.now(),
    )


async def update_settings(
    session: AsyncSession, tenant: Tenant, *, max_hold_seconds: int, slot_minutes: int
) -> GuideSettings:
    """Save the settings. 422 for a hold maximum outside 1 hour – 7 days or a slot length
    not among :data:`SLOT_CHOICES`."""
    if not 3600 <= max_hold_seconds <= HOLD_CEILING_SECONDS:
        raise ValidationFailed(
            "The longest hold is from one hour to seven days", field="max_hold_seconds"
        )
    if slot_minutes not in SLOT_CHOICES:
        raise ValidationFailed(
            f"A fitting lasts one of {', '.join(map(str, SLOT_CHOICES))} minutes",
            field="slot_minutes",
        )
    row: GuideSettings | None = await session.scalar(scoped(GuideSettings, tenant))
    if row is None:
        row = GuideSettings(merchant_id=tenant.id)
        session.add(row)
    row.max_hold_seconds = max_hold_seconds
    row.slot_minutes = slot_minutes
    row.updated_at = clock.now()
    await session.flush()
    return row
