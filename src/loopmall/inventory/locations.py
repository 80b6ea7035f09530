"""Locations: the default warehouse ("online stock"), one per store, and other warehouses.

The default warehouse and store locations come into being the first time something needs
them. Creating them is idempotent and safe when many requests race: the unique
constraints decide, through INSERT … ON CONFLICT DO NOTHING, and the winner is read back —
never "look, then insert". Call these in a write unit of work.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.valueset import one_of
from loopmall.inventory.models import Location
from loopmall.inventory.repository import AnySelect, cut, insert_ignore, keyset
from loopmall.inventory.rules import LocationCodeTaken, LocationKind, clean_text, could_be_id
from loopmall.merchants.models import Store

DEFAULT_CODE = "online"
DEFAULT_NAME = "线上库存"
# How API callers name the default warehouse without knowing its id.
DEFAULT_REF = "online"


async def _default(session: AsyncSession, tenant: Tenant) -> Location | None:
    result: Location | None = await session.scalar(
        scoped(Location, tenant, Location.is_default.is_(True))
    )
    return result


async def default_warehouse(session: AsyncSession, tenant: Tenant) -> Location:
    """The merchant's default warehouse (its online stock), created on first use.

    Idempotent and race-safe: concurrent callers all get the same row.
    """
    found = await _default(session, tenant)
    if found is not None:
        return found
    await insert_ignore(
        session,
        Location,
        {
            "merchant_id": tenant.id,
            "public_id": new_public_id("loc"),
            "kind": LocationKind.WAREHOUSE.value,
            "store_id": None,
            "is_default": True,
            "code": DEFAULT_CODE,
            "name": DEFAULT_NAME,
            "created_at": clock.now(),
        },
    )
    found = await _default(session, tenant)
    if found is None:  # the code "online" was taken by an ordinary warehouse
        raise LocationCodeTaken(
            f"A warehouse already uses the code {DEFAULT_CODE!r}", location_code=DEFAULT_CODE
        )
    return found


async def location_for_store(session: AsyncSession, tenant: Tenant, store_id: int) -> Location:
    """The stock location of one of the merchant's stores, created on first use.

    Raises :class:`NotFound` for a store of another merchant or none. Race-safe.
    """
    stmt = scoped(Location, tenant, Location.store_id == store_id)
    found: Location | None = await session.scalar(stmt)
    if found is not None:
        return found
    store = await session.scalar(scoped(Store, tenant, Store.id == store_id))
    if store is None:
        raise NotFound("No such store")
    await insert_ignore(
        session,
        Location,
        {
            "merchant_id": tenant.id,
            "public_id": new_public_id("loc"),
            "kind": LocationKind.STORE.value,
            "store_id": store.id,
            "is_default": False,
            # The store's public id never changes or repeats, unlike its code.
            "code": store.public_id,
            "name": store.name,
            "created_at": clock.now(),
        },
    )
    found = await session.scalar(stmt)
    if found is None:  # only a store location can hold store_id; the insert above won
        raise NotFound("No such store")
    return found


async def create_warehouse(
    session: AsyncSession, tenant: Tenant, *, code: str, name: str
) -> Location:
    """A new warehouse; 409 ``location_code_taken`` when the code is in use.

    The default warehouse is made first, so nobody can take its code ("online").
    """
    code = clean_text(code, field="code", max_length=60)
    name = clean_text(name, field="name", max_length=100)
    await default_warehouse(session, tenant)
    public_id = new_public_id("loc")
    inserted = await insert_ignore(
        session,
        Location,
        {
            "merchant_id": tenant.id,
            "public_id": public_id,
            "kind": LocationKind.WAREHOUSE.value,
            "store_id": None,
            "is_default": False,
            "code": code,
            "name": name,
            "created_at": clock.now(),
        },
    )
    if not inserted:
        raise LocationCodeTaken(
            f"A location already uses the code {code!r}", field="code", location_code=code
        )
    return await get_location_by_public_id(session, tenant, public_id)


@dataclass(frozen=True, slots=True)
class LocationInfo:
    location: Location
    store_public_id: str | None
    store_name: str | None
    store_code: str | None

    @property
    def id(self) -> int:
        return self.location.id

    @property
    def display_name(self) -> str:
        return self.store_name or self.location.name

    @property
    def display_code(self) -> str:
        return self.store_code or self.location.code


def _infos_stmt(tenant: Tenant, store_ids: frozenset[int] | None) -> AnySelect:
    stmt = (
        select(Location, Store.public_id, Store.name, Store.code)
        .outerjoin(Store, Store.id == Location.store_id)
        .where(Location.merchant_id == tenant.id)
    )
    if store_ids is not None:
        stmt = stmt.where(one_of(Location.store_id, store_ids))
    return stmt


async def list_locations(
    session: AsyncSession,
    tenant: Tenant,
    *,
    store_ids: frozenset[int] | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> tuple[list[LocationInfo], str | None]:
    """Locations in creation order, by cursor (all of them without ``limit``);
    ``store_ids`` (a store role's stores) hides the rest."""
    stmt = _infos_stmt(tenant, store_ids)
    if limit is None:
        rows = (await session.execute(stmt.order_by(Location.id))).all()
        return [LocationInfo(*r) for r in rows], None
    rows = (await session.execute(keyset(stmt, Location.id, cursor, limit))).all()
    infos, next_cursor = cut([LocationInfo(*r) for r in rows], limit)
    return infos, next_cursor


async def location_infos(
    session: AsyncSession, tenant: Tenant, location_ids: Collection[int]
) -> list[LocationInfo]:
    """These locations (of the merchant) with their stores' names, in no order."""
    if not location_ids:
        return []
    stmt = _infos_stmt(tenant, None).where(one_of(Location.id, list(location_ids)))
    return [LocationInfo(*r) for r in (await session.execute(stmt)).all()]


async def storeless_locations(
    session: AsyncSession, tenant: Tenant, store_ids: frozenset[int] | None
) -> list[LocationInfo]:
    """The locations that are not a store's (online stock, warehouses), in creation order;
    none for someone limited to ``store_ids``. A handful, where a chain has a store location
    per store."""
    if store_ids is not None:
        return []
    stmt = _infos_stmt(tenant, None).where(Location.store_id.is_(None)).order_by(Location.id)
    return [LocationInfo(*r) for r in (await session.execute(stmt)).all()]


async def location_info(session: AsyncSession, tenant: Tenant, location_id: int) -> LocationInfo:
    row = (await session.execute(_infos_stmt(tenant, None).where(Location.id == location_id))).one()
    return LocationInfo(*row)


async def get_location_by_public_id(
    session: AsyncSession, tenant: Tenant, public_id: str
) -> Location:
    found: Location | None = await session.scalar(
        scoped(Location, tenant, Location.public_id == public_id)
    )
    if found is None:
        raise NotFound("No such location")
    return found


async def get_location(session: AsyncSession, tenant: Tenant, location_id: int) -> Location:
    found: Location | None = await session.scalar(
        scoped(Location, tenant, Location.id == location_id)
    )
    if found is None:
        raise NotFound("No such location")
    return found


def sees(location: Location, store_ids: frozenset[int] | None) -> bool:
    """Whether someone limited to ``store_ids`` (``None``: every store) sees ``location``.

    Store roles see their stores' locations only; warehouses are the merchant's.
    """
    if store_ids is None:
        return True
    return location.store_id is not None and location.store_id in store_ids


async def resolve_location(
    session: AsyncSession,
    tenant: Tenant,
    ref: str,
    *,
    create: bool,
    store_ids: frozenset[int] | None = None,
) -> Location | None:
    """A location named the way the API names them: ``loc_…``, a store's ``st_…`` or
    ``online`` (the default warehouse).

    With ``create`` the default warehouse and store locations are made on demand (write
    units of work only); without it, one that does not exist yet gives ``None``.
    Unknown ids, other merchants' ids and locations outside ``store_ids`` (a store role's
    stores) raise :class:`NotFound` — before anything is created.
    """
    if not could_be_id(ref):
        raise NotFound("No such location")
    if ref == DEFAULT_REF:
        if store_ids is not None:
            raise NotFound("No such location")
        if create:
            return await default_warehouse(session, tenant)
        return await _default(session, tenant)
    if ref.startswith("st_"):
        store_id = await session.scalar(
            select(Store.id).where(Store.merchant_id == tenant.id, Store.public_id == ref)
        )
        if store_id is None or (store_ids is not None and store_id not in store_ids):
            raise NotFound("No such store")
        if create:
            return await location_for_store(session, tenant, store_id)
        found: Location | None = await session.scalar(
            scoped(Location, tenant, Location.store_id == store_id)
        )
        return found
    location: Location | None = await session.scalar(
        scoped(Location, tenant, Location.public_id == ref)
    )
    if location is None or not sees(location, store_ids):
        raise NotFound("No such location")
    return location


async def visible_location_ids(
    session: AsyncSession, tenant: Tenant, store_ids: frozenset[int] | None
) -> frozenset[int] | None:
    """The locations someone limited to ``store_ids`` sees (``None``: all of them)."""
    if store_ids is None:
        return None
    ids = await session.scalars(
        select(Location.id).where(
            Location.merchant_id == tenant.id, one_of(Location.store_id, store_ids)
        )
    )
    return frozenset(ids)
