"""Finding a merchant's staff: one person, a filtered page, counts, who works where.

Store roles pass ``visible`` (the store ids they work in) and find only people who work in
one of those stores; everyone else is "not found", like another merchant's staff.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.pagination import paginate_by_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.valueset import one_of
from loopmall.identity.permissions import Role
from loopmall.merchants.models import Store
from loopmall.merchants.stores import UnknownStore, search_text, stores_by_public_ids
from loopmall.staff.models import Staff, StaffStore

PUBLIC_ID = re.compile(r"^[\x21-\x7e]{1,40}$")


class InvalidRole(ValidationFailed):
    code = "invalid_role"
    title = "Not a role: owner, manager, store_manager, guide or cashier"


def parse_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidRole(field="role") from None


def _in_stores(store_ids: Collection[int]) -> Any:
    return Staff.id.in_(select(StaffStore.staff_id).where(one_of(StaffStore.store_id, store_ids)))


async def get_staff(
    session: AsyncSession,
    tenant: Tenant,
    public_id: str,
    *,
    visible: Collection[int] | None = None,
) -> Staff:
    """The merchant's staff member with this public id. With ``visible`` (a store role's
    stores) only people working in one of those stores are found. Raises ``NotFound``."""
    if not PUBLIC_ID.match(public_id):
        raise NotFound("No such staff member")
    stmt = scoped(Staff, tenant, Staff.public_id == public_id)
    if visible is not None:
        stmt = stmt.where(_in_stores(visible))
    staff = await session.scalar(stmt)
    if staff is None:
        raise NotFound("No such staff member")
    return staff


async def staff_query(
    session: AsyncSession,
    tenant: Tenant,
    *,
    store: str | None = None,
    role: str | None = None,
    q: str | None = None,
    active: bool | None = None,
    visible: Collection[int] | None = None,
) -> Select[Any]:
    """The merchant's staff matching the filters (``store`` is a store public id).

    Raises ``UnknownStore`` for a store the viewer cannot see, ``InvalidRole``.
    """
    stmt = scoped(Staff, tenant)
    if store:
        (found,) = await stores_by_public_ids(session, tenant, [store])
        if visible is not None and found.id not in visible:
            raise UnknownStore(f"No such store: {store}", field="store", ids=[store], stores=store)
        stmt = stmt.where(_in_stores([found.id]))
    if visible is not None:
        stmt = stmt.where(_in_stores(visible))
    if role:
        stmt = stmt.where(Staff.role == parse_role(role).value)
    q = search_text(q)
    if q:
        needle = q.lower()
        stmt = stmt.where(
            or_(
                *(
                    func.lower(column).contains(needle, autoescape=True)
                    for column in (Staff.name, Staff.phone, Staff.employee_no)
                )
            )
        )
    if active is not None:
        stmt = stmt.where(Staff.active.is_(active))
    return stmt


async def list_staff(
    session: AsyncSession,
    tenant: Tenant,
    *,
    store: str | None = None,
    role: str | None = None,
    q: str | None = None,
    active: bool | None = None,
    visible: Collection[int] | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Staff], str | None]:
    """A page of the merchant's staff, oldest first, and the next page's cursor.

    Store roles pass ``visible`` (their stores) and see only people of those stores.
    Raises ``UnknownStore``, ``InvalidRole`` and ``ValidationFailed`` (cursor, limit).
    """
    stmt = await staff_query(
        session, tenant, store=store, role=role, q=q, active=active, visible=visible
    )
    return await paginate_by_id(session, stmt, Staff.id, cursor=cursor, limit=limit)


async def stores_of(
    session: AsyncSession,
    tenant: Tenant,
    staff_ids: Collection[int],
    *,
    visible: Collection[int] | None = None,
) -> dict[int, list[Store]]:
    """Each staff member's stores (within ``visible``), by code, in one query."""
    if not staff_ids:
        return {}
    stmt = (
        select(StaffStore.staff_id, Store)
        .join(Store, Store.id == StaffStore.store_id)
        .where(StaffStore.merchant_id == tenant.id, StaffStore.staff_id.in_(list(staff_ids)))
        .order_by(Store.code)
    )
    if visible is not None:
        stmt = stmt.where(one_of(Store.id, visible))
    result: dict[int, list[Store]] = {i: [] for i in staff_ids}
    for staff_id, store in await session.execute(stmt):
        result[staff_id].append(store)
    return result


async def count_staff(
    session: AsyncSession, tenant: Tenant, *, visible: Collection[int] | None = None
) -> int:
    """How many staff the merchant has (with ``visible``: working in those stores)."""
    stmt = select(func.count()).select_from(Staff).where(Staff.merchant_id == tenant.id)
    if visible is not None:
        stmt = stmt.where(_in_stores(visible))
    return int(await session.scalar(stmt) or 0)


async def staff_counts_by_store(
    session: AsyncSession, tenant: Tenant, store_ids: Collection[int]
) -> dict[int, int]:
    """How many active staff work in each of these stores."""
    if not store_ids:
        return {}
    rows = await session.execute(
        select(StaffStore.store_id, func.count())
        .join(Staff, Staff.id == StaffStore.staff_id)
        .where(
            StaffStore.merchant_id == tenant.id,
            one_of(StaffStore.store_id, store_ids),
            Staff.active.is_(True),
        )
        .group_by(StaffStore.store_id)
    )
    counts = {store_id: 0 for store_id in store_ids}
    counts.update({store_id: int(n) for store_id, n in rows})
    return counts


@dataclass(frozen=True, slots=True)
class StorePerson:
    """Who a shopper may meet in a store: the public id and the name, nothing else."""

    public_id: str
    name: str


async def working_in_store(
    session: AsyncSession,
    tenant: Tenant,
    store_id: int,
    *,
    roles: Collection[Role],
    limit: int,
) -> list[StorePerson]:
    """Up to ``limit`` active staff in these roles working in the store, by name, as
    columns in one statement (the mall's store page lists its guides)."""
    rows = await session.execute(
        select(Staff.public_id, Staff.name)
        .join(StaffStore, StaffStore.staff_id == Staff.id)
        .where(
            StaffStore.merchant_id == tenant.id,
            StaffStore.store_id == store_id,
            Staff.merchant_id == tenant.id,
            Staff.active.is_(True),
            Staff.role.in_([role.value for role in roles]),
        )
        .order_by(Staff.name, Staff.id)
        .limit(limit)
    )
    return [StorePerson(public_id, name) for public_id, name in rows.all()]
