"""A merchant's staff one at a time: add, change, deactivate, find (imports: ``bulk.py``).

The rules, all enforced here so that the API, the pages and the demo loader share them:

- a phone number (an 11-digit mainland mobile, what staff log in with) belongs to one staff
  member of a merchant (409 ``phone_taken``);
- store roles (store manager, guide, cashier) work in at least one of the merchant's stores
  (422 ``store_required`` / ``unknown_store``);
- only an owner makes, changes or promotes owners and managers (403 ``owner_required``);
- the last active owner stays an active owner (409 ``last_owner``), so a merchant can
  never lock itself out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import Conflict, Forbidden, TooLong, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant
from loopmall.core.text import check_text
from loopmall.identity import service as identity
from loopmall.identity.credentials import (
    check_password,
    check_person_name,
    clean_phone,
)
from loopmall.identity.passwords import hash_password
from loopmall.identity.permissions import STORE_SCOPED_ROLES, Role
from loopmall.merchants.models import Store
from loopmall.merchants.stores import stores_by_public_ids
from loopmall.staff.directory import get_staff, parse_role
from loopmall.staff.models import Staff, StaffStore

EMPLOYEE_NO_MAX = 40
MANAGING_ROLES = frozenset({Role.OWNER, Role.MANAGER})
EDITABLE = frozenset({"name", "phone", "role", "active", "stores", "password", "employee_no"})


class StoreRequired(ValidationFailed):
    code = "store_required"
    title = "Store managers, guides and cashiers must work in at least one store"


class PhoneTaken(Conflict):
    code = "phone_taken"
    title = "Another staff member of this merchant has this phone number"


class OwnerRequired(Forbidden):
    code = "owner_required"
    title = "Only an owner may add, change or promote owners and managers"


class LastOwner(Conflict):
    code = "last_owner"
    title = "The merchant's last active owner cannot be deactivated or demoted"


def _employee_no(value: str) -> str:
    value = check_text(value.strip(), field="employee_no") if isinstance(value, str) else ""
    if len(value) > EMPLOYEE_NO_MAX:
        raise TooLong(
            f"The employee number takes at most {EMPLOYEE_NO_MAX} characters",
            field="employee_no",
            most=EMPLOYEE_NO_MAX,
        )
    return value


def _check_actor(acting_role: Role | None, *roles: Role) -> None:
    if acting_role is not None and acting_role is not Role.OWNER:
        if any(r in MANAGING_ROLES for r in roles):
            raise OwnerRequired()


async def _write(session: AsyncSession, staff: Staff, values: Mapping[str, Any]) -> None:
    """Apply ``values`` and flush in a savepoint: the unique index (merchant, phone) decides,
    and a clash leaves the caller's transaction usable. The changes are made inside the
    savepoint because opening one flushes whatever is pending."""
    try:
        async with session.begin_nested():
            for field, value in values.items():
                setattr(staff, field, value)
            session.add(staff)
            await session.flush()
    except IntegrityError:
        raise PhoneTaken(field="phone") from None


async def _assign(session: AsyncSession, tenant: Tenant, staff: Staff, stores: list[Store]) -> None:
    """Make the staff member's stores exactly ``stores``."""
    wanted = {s.id for s in stores}
    current = set(
        await session.scalars(
            select(StaffStore.store_id).where(
                StaffStore.merchant_id == tenant.id, StaffStore.staff_id == staff.id
            )
        )
    )
    if current - wanted:
        await session.execute(
            delete(StaffStore).where(
                StaffStore.merchant_id == tenant.id,
                StaffStore.staff_id == staff.id,
                StaffStore.store_id.in_(list(current - wanted)),
            )
        )
    for store_id in sorted(wanted - current):
        session.add(StaffStore(merchant_id=tenant.id, staff_id=staff.id, store_id=store_id))
    await session.flush()


async def create_staff(
    session: AsyncSession,
    tenant: Tenant,
    *,
    phone: str,
    name: str,
    role: Role | str,
    password: str | None = None,
    stores: Sequence[str] = (),
    employee_no: str = "",
    acting_role: Role | None = None,
) -> Staff:
    """Add a staff member working in ``stores`` (store public ids).

    ``acting_role`` is the role of whoever is adding (None: the platform itself, e.g. the
    demo loader). Without a password the person cannot log in until one is set. Flushes,
    never commits. Raises ``InvalidPhone``, ``WeakPassword``, ``InvalidRole``,
    ``ValidationFailed``, ``UnknownStore``, ``StoreRequired`` (422), ``OwnerRequired``
    (403) and ``PhoneTaken`` (409).
    """
    the_role = parse_role(role)
    _check_actor(acting_role, the_role)
    clean = clean_phone(phone)
    the_name = check_person_name(name)
    number = _employee_no(employee_no)
    if password is not None:
        check_password(password)
    assigned = await stores_by_public_ids(session, tenant, list(stores))
    if the_role in STORE_SCOPED_ROLES and not assigned:
        raise StoreRequired(field="stores")
    now = clock.now()
    staff = Staff(
        merchant_id=tenant.id,
        public_id=new_public_id("stf"),
        phone=clean,
        name=the_name,
        role=the_role.value,
        employee_no=number,
        password_hash=await hash_password(password) if password is not None else None,
        active=True,
        created_at=now,
        updated_at=now,
    )
    await _write(session, staff, {})
    await _assign(session, tenant, staff, assigned)
    return staff


async def _active_owner_ids(session: AsyncSession, tenant: Tenant) -> list[int]:
    # Locked in primary-key order on PostgreSQL, so two requests demoting two different
    # owners cannot both see "another owner is left" (SQLite writers are serialised).
    stmt = (
        select(Staff.id)
        .where(
            Staff.merchant_id == tenant.id,
            Staff.role == Role.OWNER.value,
            Staff.active.is_(True),
        )
        .order_by(Staff.id)
        .with_for_update()
    )
    return list(await session.scalars(stmt))


async def update_staff(
    session: AsyncSession,
    tenant: Tenant,
    public_id: str,
    changes: Mapping[str, Any],
    *,
    acting_role: Role | None = None,
    keep_session_id: int | None = None,
) -> Staff:
    """Change the given fields (any of ``EDITABLE``: name, phone, role, active, stores,
    password, employee_no); the others stay. ``stores`` (public ids) replaces the
    assignments. A new password or a deactivation ends the person's sessions and tokens
    (except ``keep_session_id``, the caller's own).

    Raises ``NotFound``, the 422s of :func:`create_staff`, ``OwnerRequired`` (403),
    ``PhoneTaken`` and ``LastOwner`` (409). Flushes, never commits.
    """
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValidationFailed(f"Cannot change {', '.join(sorted(unknown))}", field=min(unknown))
    staff = await get_staff(session, tenant, public_id)
    current_role = parse_role(staff.role)
    new_role = parse_role(changes["role"]) if "role" in changes else current_role
    _check_actor(acting_role, current_role, new_role)

    # Check everything before touching the row: the queries below autoflush.
    name = check_person_name(changes["name"]) if "name" in changes else staff.name
    number = _employee_no(changes["employee_no"]) if "employee_no" in changes else None
    phone = clean_phone(changes["phone"]) if "phone" in changes else staff.phone
    if "active" in changes and not isinstance(changes["active"], bool):
        raise ValidationFailed("active is true or false", field="active")
    active = bool(changes.get("active", staff.active))
    password = changes.get("password")
    if password is not None:
        check_password(password)

    if "stores" in changes:
        assigned = await stores_by_public_ids(session, tenant, list(changes["stores"] or []))
        has_stores = bool(assigned)
    else:
        assigned = None
        has_stores = await _has_assignments(session, tenant, staff.id)
    if new_role in STORE_SCOPED_ROLES and not has_stores:
        raise StoreRequired(field="stores")

    losing_owner = current_role is Role.OWNER and (new_role is not Role.OWNER or not active)
    if losing_owner and staff.active:
        owners = await _active_owner_ids(session, tenant)
        if not [i for i in owners if i != staff.id]:
            raise LastOwner()

    was_active = staff.active
    values: dict[str, Any] = {
        "name": name,
        "phone": phone,
        "role": new_role.value,
        "active": active,
        "updated_at": clock.now(),
    }
    if number is not None:
        values["employee_no"] = number
    if password is not None:
        values["password_hash"] = await hash_password(password)
    await _write(session, staff, values)
    if assigned is not None:
        await _assign(session, tenant, staff, assigned)
    if password is not None or (was_active and not active):
        await identity.revoke_staff_sessions(session, staff.id, keep_session_id=keep_session_id)
    return staff


async def _has_assignments(session: AsyncSession, tenant: Tenant, staff_id: int) -> bool:
    found = await session.scalar(
        select(StaffStore.id)
        .where(StaffStore.merchant_id == tenant.id, StaffStore.staff_id == staff_id)
        .limit(1)
    )
    return found is not None
