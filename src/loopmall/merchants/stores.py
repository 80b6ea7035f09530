"""Stores one at a time: create, edit, close, find (bulk imports live in ``bulk.py``).

A store has an address, coordinates, opening hours and a pickup switch (S2, S3). Its
``code`` is the merchant's own key (what the chain's spreadsheets use), unique within the
merchant. Stores are never deleted — orders, stock and staff history point at them — a
store that shuts is ``closed``.

Store roles (store manager, guide, cashier) only see the stores they work in: the
functions that read take ``visible`` (the principal's store ids, or None for all) and a
store outside it is "not found", exactly like another merchant's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypedDict

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import Conflict, NotFound, OutOfRange, TooLong, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.pagination import paginate_by_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.text import check_text
from loopmall.core.valueset import one_of
from loopmall.merchants import hours as opening_hours
from loopmall.merchants.events import StoresChanged
from loopmall.merchants.models import Store

STATUSES = ("open", "closed")
TEXT_LIMITS = {"code": 40, "name": 100, "city": 50, "district": 50, "address": 255, "note": 2000}
REQUIRED = frozenset({"code", "name"})
EDITABLE = frozenset(
    {
        "code",
        "name",
        "city",
        "district",
        "address",
        "phone",
        "latitude",
        "longitude",
        "opening_hours",
        "pickup_enabled",
        "status",
        "note",
    }
)
STORE_PHONE = re.compile(r"^\+?[0-9][0-9\- ()]{4,29}$")
_CODE = re.compile(r"^[^\s]+$")
_PUBLIC_ID = re.compile(r"^[\x21-\x7e]{1,40}$")

# Opening hours as given: the stored mapping, or text like "mon-fri 10:00-22:00".
HoursInput = Mapping[str, Sequence[Sequence[str]]] | str | None


class StoreCodeTaken(Conflict):
    code = "store_code_taken"
    title = "Another store of this merchant already has this code"


class InvalidOpeningHours(ValidationFailed):
    code = "invalid_opening_hours"
    title = "These are not opening hours like 10:00-22:00 or mon-fri 10:00-22:00"


class UnknownStore(ValidationFailed):
    code = "unknown_store"
    title = "No such store"
    message = "No such store: %(stores)s"


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text", field=field)
    value = value.strip()
    limit = TEXT_LIMITS.get(field, 255)
    if field in REQUIRED and not value:
        raise ValidationFailed(f"{field} must not be empty", field=field)
    if len(value) > limit:
        raise TooLong(f"{field} takes at most {limit} characters", field=field, most=limit)
    # Notes and addresses may have line breaks; other fields may not (core.text's rule).
    return check_text(value, field=field, multiline=field in ("note", "address"))


def search_text(value: str | None, field: str = "q") -> str | None:
    """A search or filter text, stripped; None when empty. Raises ``ValidationFailed`` for
    control characters (no stored text has them, and PostgreSQL refuses NUL)."""
    if value is None:
        return None
    return check_text(value.strip(), field=field) or None


def parse_hours(value: HoursInput) -> dict[str, list[list[str]]]:
    """Opening hours as text or as the stored mapping → the stored mapping.

    Raises ``InvalidOpeningHours`` with the parser's reason.
    """
    try:
        if value is None:
            return {}
        if isinstance(value, str):
            return opening_hours.parse(value)
        return opening_hours.validate(
            {day: [list(i) for i in spans] for day, spans in value.items()}
        )
    except (opening_hours.OpeningHoursError, TypeError) as exc:
        raise InvalidOpeningHours(reason=str(exc), field="opening_hours") from None


def _coordinate(field: str, value: Any, bound: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(f"{field} must be a number", field=field)
    number = float(value)
    if not math.isfinite(number) or not -bound <= number <= bound:
        raise OutOfRange(
            f"{field} must be between -{bound:g} and {bound:g}",
            field=field,
            low=f"-{bound:g}",
            high=f"{bound:g}",
        )
    return number


def _clean(field: str, value: Any) -> Any:
    """One field's value, checked and normalised. Raises ``ValidationFailed``."""
    if field in TEXT_LIMITS:
        text = _text(field, value)
        if field == "code" and not _CODE.match(text):
            raise ValidationFailed("The store code must not contain spaces", field=field)
        return text
    if field == "phone":
        text = _text(field, value)
        if text and not STORE_PHONE.match(text):
            raise ValidationFailed("Not a phone number", field=field)
        return text
    if field == "latitude":
        return _coordinate(field, value, 90)
    if field == "longitude":
        return _coordinate(field, value, 180)
    if field == "opening_hours":
        return parse_hours(value)
    if field == "pickup_enabled":
        if not isinstance(value, bool):
            raise ValidationFailed("pickup_enabled is true or false", field=field)
        return value
    if field == "status":
        if value not in STATUSES:
            raise ValidationFailed("status is open or closed", field=field)
        return value
    raise ValidationFailed(f"{field} cannot be changed", field=field)


def _check_pair(latitude: float | None, longitude: float | None) -> None:
    if (latitude is None) != (longitude is None):
        missing = "longitude" if longitude is None else "latitude"
        raise ValidationFailed("Give both latitude and longitude, or neither", field=missing)


async def _write(session: AsyncSession, store: Store, values: Mapping[str, Any]) -> None:
    """Apply ``values`` and flush inside a savepoint: the unique index on (merchant, code)
    decides (no check-then-act), and a taken code leaves the caller's transaction usable.
    The changes are made inside the savepoint because opening one flushes what is pending."""
    try:
        async with session.begin_nested():
            for field, value in values.items():
                setattr(store, field, value)
            session.add(store)
            await session.flush()
    except IntegrityError:
        raise StoreCodeTaken(field="code") from None


async def create_store(  # noqa: PLR0913 (a store's columns, all keyword-only and named at every call)
    session: AsyncSession,
    tenant: Tenant,
    *,
    code: str,
    name: str,
    city: str = "",
    district: str = "",
    address: str = "",
    phone: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    opening_hours: HoursInput = None,
    pickup_enabled: bool = True,
    note: str = "",
) -> Store:
    """Open a store for the merchant (status ``open``).

    ``opening_hours`` is the stored mapping or text for ``merchants.hours.parse``.
    Flushes, never commits. Raises ``ValidationFailed`` (422, ``field`` names the bad
    one), ``InvalidOpeningHours`` (422) and ``StoreCodeTaken`` (409).
    """
    given = {
        "code": code,
        "name": name,
        "city": city,
        "district": district,
        "address": address,
        "phone": phone,
        "latitude": latitude,
        "longitude": longitude,
        "opening_hours": opening_hours,
        "pickup_enabled": pickup_enabled,
        "note": note,
    }
    values = {field: _clean(field, value) for field, value in given.items()}
    _check_pair(values["latitude"], values["longitude"])
    now = clock.now()
    store = Store(
        merchant_id=tenant.id,
        public_id=new_public_id("st"),
        status="open",
        created_at=now,
        updated_at=now,
        **values,
    )
    await _write(session, store, {})
    await publish(
        session, StoresChanged(merchant_id=tenant.id, stores=[store.public_id], change="created")
    )
    return store


async def update_store(
    session: AsyncSession, tenant: Tenant, public_id: str, changes: Mapping[str, Any]
) -> Store:
    """Change the given fields of a store (any of ``EDITABLE``); closing it is
    ``{"status": "closed"}``. Fields not in ``changes`` stay as they are.

    Raises ``NotFound``, ``ValidationFailed``, ``InvalidOpeningHours`` and
    ``StoreCodeTaken``. Flushes, never commits.
    """
    store = await get_store(session, tenant, public_id)
    cleaned = {field: _clean(field, value) for field, value in changes.items()}
    if not cleaned:
        return store
    _check_pair(cleaned.get("latitude", store.latitude), cleaned.get("longitude", store.longitude))
    await _write(session, store, cleaned | {"updated_at": clock.now()})
    status = cleaned.get("status")
    change = {"open": "opened", "closed": "closed"}.get(str(status), "edited")
    await publish(
        session, StoresChanged(merchant_id=tenant.id, stores=[store.public_id], change=change)
    )
    return store


async def get_store(
    session: AsyncSession,
    tenant: Tenant,
    public_id: str,
    *,
    visible: Collection[int] | None = None,
) -> Store:
    """The merchant's store with this public id, if ``visible`` (None: every store) holds
    it. Raises ``NotFound`` otherwise — for another merchant's store too."""
    store = None
    if _PUBLIC_ID.match(public_id):
        store = await session.scalar(scoped(Store, tenant, Store.public_id == public_id))
    if store is None or (visible is not None and store.id not in visible):
        raise NotFound("No such store")
    return store


def stores_query(
    tenant: Tenant,
    *,
    q: str | None = None,
    city: str | None = None,
    status: str | None = None,
    visible: Collection[int] | None = None,
) -> Select[Any]:
    """The merchant's stores matching the filters; ``q`` looks in code, name and address."""
    stmt = scoped(Store, tenant)
    q, city = search_text(q), search_text(city, "city")
    if q:
        needle = q.lower()
        stmt = stmt.where(
            or_(
                *(
                    func.lower(column).contains(needle, autoescape=True)
                    for column in (Store.code, Store.name, Store.address)
                )
            )
        )
    if city:
        stmt = stmt.where(Store.city == city)
    if status:
        stmt = stmt.where(Store.status == status)
    if visible is not None:
        stmt = stmt.where(one_of(Store.id, visible))
    return stmt


async def list_stores(
    session: AsyncSession,
    tenant: Tenant,
    *,
    q: str | None = None,
    city: str | None = None,
    status: str | None = None,
    visible: Collection[int] | None = None,
    cursor: str | None = None,
    limit: int = 50,
    newest_first: bool = False,
) -> tuple[list[Store], str | None]:
    """A page of the merchant's stores, oldest (or newest) first, and the cursor of the
    next page.

    Raises ``ValidationFailed`` for a bad cursor or limit.
    """
    if status is not None and status not in STATUSES:
        raise ValidationFailed("status is open or closed", field="status")
    stmt = stores_query(tenant, q=q, city=city, status=status, visible=visible)
    return await paginate_by_id(
        session, stmt, Store.id, cursor=cursor, limit=limit, descending=newest_first
    )


async def count_stores(
    session: AsyncSession, tenant: Tenant, *, visible: Collection[int] | None = None
) -> int:
    stmt = select(func.count()).select_from(Store).where(Store.merchant_id == tenant.id)
    if visible is not None:
        stmt = stmt.where(one_of(Store.id, visible))
    return int(await session.scalar(stmt) or 0)


async def cities(
    session: AsyncSession, tenant: Tenant, *, visible: Collection[int] | None = None
) -> list[str]:
    """The cities the merchant has stores in, for filters."""
    stmt = select(Store.city).where(Store.merchant_id == tenant.id, Store.city != "").distinct()
    if visible is not None:
        stmt = stmt.where(one_of(Store.id, visible))
    return sorted(await session.scalars(stmt))


async def stores_by_public_ids(
    session: AsyncSession, tenant: Tenant, public_ids: Sequence[str]
) -> list[Store]:
    """The merchant's stores with these public ids, in the order given, once each.

    Raises ``UnknownStore`` (422) naming every id that is not one of the merchant's stores.
    """
    wanted = list(dict.fromkeys(public_ids))
    if not wanted:
        return []
    plausible = [p for p in wanted if isinstance(p, str) and _PUBLIC_ID.match(p)]
    found = {
        s.public_id: s
        for s in await session.scalars(scoped(Store, tenant, Store.public_id.in_(plausible)))
    }
    unknown = [p for p in wanted if p not in found]
    if unknown:
        raise UnknownStore(
            f"No such store: {', '.join(unknown)}",
            field="stores",
            ids=unknown,
            stores=", ".join(unknown),
        )
    return [found[p] for p in wanted]


async def stores_by_ids(
    session: AsyncSession, tenant: Tenant, ids: Collection[int]
) -> dict[int, Store]:
    """The merchant's stores with these internal ids."""
    if not ids:
        return {}
    rows = await session.scalars(scoped(Store, tenant, Store.id.in_(list(ids))))
    return {s.id: s for s in rows}


class StoreListing(TypedDict):
    """An open store as a mall lists it (the home's store locator, the API): plain JSON."""

    id: str  # public id
    name: str
    address: str  # city, district and street, as one line
    phone: str
    hours: str  # the opening hours in the short form ("mon-fri 10:00-22:00; sat-sun ...")
    pickup: bool
    latitude: float | None
    longitude: float | None


async def open_store_listings(
    session: AsyncSession, tenant: Tenant, *, limit: int
) -> list[StoreListing]:
    """The merchant's first ``limit`` open stores, oldest first, in one statement of the
    columns shown (a mall page reads this for every visitor: no ORM instances, issue #13)."""
    rows = await session.execute(
        select(
            Store.public_id,
            Store.name,
            Store.city,
            Store.district,
            Store.address,
            Store.phone,
            Store.opening_hours,
            Store.pickup_enabled,
            Store.latitude,
            Store.longitude,
        )
        .where(Store.merchant_id == tenant.id, Store.status == "open")
        .order_by(Store.id)
        .limit(limit)
    )
    return [
        StoreListing(
            id=r.public_id,
            name=r.name,
            address=" ".join(x for x in (r.city, r.district, r.address) if x),
            phone=r.phone,
            hours=opening_hours.describe(r.opening_hours or {}),
            pickup=bool(r.pickup_enabled),
            latitude=r.latitude,
            longitude=r.longitude,
        )
        for r in rows
    ]
