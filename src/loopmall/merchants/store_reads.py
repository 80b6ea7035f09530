"""The mall's stores as a shopper sees them: a page of open stores (by name, or nearest first
to a point) and one open store, read as columns in one statement each, never as ``Store``
instances (issue #13: crowds open these pages).

What is shown of a store's hours is worked out here too: today's hours and whether it is
open now, in Asia/Shanghai time, and the week. A closed store, or another merchant's, is
not found.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, literal, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import NotFound, OutOfRange, ValidationFailed
from loopmall.core.pagination import decode_cursor, encode_cursor
from loopmall.core.tenancy import Tenant
from loopmall.merchants import hours as opening_hours
from loopmall.merchants.models import Store
from loopmall.merchants.stores import search_text

PAGE_LIMIT = 50  # the most stores one page answers
EARTH_RADIUS_M = 6_371_000
# A store without coordinates sorts after every store that has them when nearest first:
# no squared degree distance on Earth comes near this.
FAR = 1.0e12
_PUBLIC_ID = re.compile(r"^[\x21-\x7e]{1,40}$")
_NEAR = re.compile(r"^\s*(-?\d{1,3}(?:\.\d{1,12})?)\s*,\s*(-?\d{1,3}(?:\.\d{1,12})?)\s*$")

_COLUMNS: tuple[Any, ...] = (
    Store.id,
    Store.public_id,
    Store.name,
    Store.city,
    Store.district,
    Store.address,
    Store.phone,
    Store.latitude,
    Store.longitude,
    Store.opening_hours,
    Store.pickup_enabled,
)


@dataclass(frozen=True, slots=True)
class Point:
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class StoreCard:
    """An open store as the mall shows it; plain values only (a read cache may keep it)."""

    id: int
    public_id: str
    name: str
    city: str
    district: str
    address: str
    phone: str
    latitude: float | None
    longitude: float | None
    hours: dict[str, list[list[str]]]
    pickup: bool

    @property
    def full_address(self) -> str:
        return " ".join(part for part in (self.city, self.district, self.address) if part)

    @property
    def map_url(self) -> str | None:
        """A marker on Amap's web map (what the home's store block links to)."""
        if self.latitude is None or self.longitude is None:
            return None
        return f"https://uri.amap.com/marker?position={self.longitude},{self.latitude}"

    @property
    def phone_href(self) -> str | None:
        digits = re.sub(r"[^0-9+]", "", self.phone)
        return f"tel:{digits}" if digits else None


@dataclass(frozen=True, slots=True)
class StorePage:
    stores: list[StoreCard]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class HoursNow:
    """What a store's hours say at a moment, in Shanghai time."""

    given: bool  # False: the store did not give its hours (nothing to say)
    today: list[str]  # today's spans, "10:00-22:00"; empty: closed today
    open_now: bool


def parse_near(value: str | None) -> Point | None:
    """``"lat,lng"`` as the browser's position gives it → a point; None for none.
    Raises ``ValidationFailed`` (field ``near``) for anything else."""
    if value is None or not value.strip():
        return None
    found = _NEAR.match(value)
    if found is None:
        raise ValidationFailed("near is a position like 31.23,121.47", field="near")
    latitude, longitude = float(found[1]), float(found[2])
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValidationFailed("near is outside the Earth's coordinates", field="near")
    return Point(latitude, longitude)


def _card(row: Any) -> StoreCard:
    return StoreCard(
        id=row.id,
        public_id=row.public_id,
        name=row.name,
        city=row.city,
        district=row.district,
        address=row.address,
        phone=row.phone,
        latitude=row.latitude,
        longitude=row.longitude,
        hours=dict(row.opening_hours or {}),
        pickup=bool(row.pickup_enabled),
    )


def _open_stores(tenant: Tenant) -> Select[Any]:
    return select(*_COLUMNS).where(Store.merchant_id == tenant.id, Store.status == "open")


def _matching(stmt: Select[Any], q: str | None) -> Select[Any]:
    needle = search_text(q)
    if not needle:
        return stmt
    needle = needle.lower()
    return stmt.where(
        or_(
            *(
                func.lower(column).contains(needle, autoescape=True)
                for column in (Store.name, Store.city, Store.district, Store.address)
            )
        )
    )


def _distance_key(near: Point) -> Any:
    """Squared distance in degrees, the longitude shrunk by the cosine of the latitude (an
    equirectangular projection): it orders stores within a country as the great-circle
    distance does, with arithmetic both databases have. The cosine is worked out here,
    because SQLite has no ``cos``."""
    shrink = math.cos(math.radians(near.latitude)) ** 2
    d_lat = Store.latitude - literal(near.latitude)
    d_lng = Store.longitude - literal(near.longitude)
    return case(
        (Store.latitude.is_(None), literal(FAR)),
        (Store.longitude.is_(None), literal(FAR)),
        else_=d_lat * d_lat + d_lng * d_lng * literal(shrink),
    )


def _after(cursor: str | None, near: Point | None) -> tuple[Any, int] | None:
    """The sort key of the last store of the previous page, or None for the first page."""
    if not cursor:
        return None
    key = decode_cursor(cursor)
    if not (isinstance(key, list) and len(key) == 2):
        raise ValidationFailed("The cursor is not valid", field="cursor")
    first, last_id = key
    wanted: type | tuple[type, ...] = (int, float) if near is not None else str
    valid_id = isinstance(last_id, int) and not isinstance(last_id, bool) and last_id > 0
    if not (valid_id and isinstance(first, wanted) and not isinstance(first, bool)):
        raise ValidationFailed("The cursor is not valid", field="cursor")
    return first, last_id


async def open_stores_page(
    session: AsyncSession,
    tenant: Tenant,
    *,
    q: str | None = None,
    near: Point | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> StorePage:
    """A page of the merchant's open stores: by name, or nearest to ``near`` first (stores
    without coordinates last); ``q`` looks in name, city, district and address. One
    statement. Raises ``ValidationFailed`` for a bad cursor or a limit outside 1–50."""
    if not 1 <= limit <= PAGE_LIMIT:
        raise OutOfRange(
            f"limit must be between 1 and {PAGE_LIMIT}", field="limit", low=1, high=PAGE_LIMIT
        )
    first = _distance_key(near) if near is not None else Store.name
    stmt = _matching(_open_stores(tenant), q).add_columns(first.label("sort_key"))
    after = _after(cursor, near)
    if after is not None:
        stmt = stmt.where(tuple_(first, Store.id) > tuple_(literal(after[0]), literal(after[1])))
    rows = (await session.execute(stmt.order_by(first, Store.id).limit(limit + 1))).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].sort_key, rows[-1].id])
    return StorePage([_card(row) for row in rows], next_cursor)


async def open_store(session: AsyncSession, tenant: Tenant, public_id: str) -> StoreCard:
    """The merchant's open store with this public id, in one statement. Raises
    ``NotFound`` for a closed store, another merchant's, or none."""
    row = None
    if _PUBLIC_ID.match(public_id):
        row = (
            await session.execute(_open_stores(tenant).where(Store.public_id == public_id))
        ).first()
    if row is None:
        raise NotFound("No such store")
    return _card(row)


def distance_m(store: StoreCard, near: Point | None) -> int | None:
    """Metres from ``near`` to the store along the Earth's surface (haversine), or None."""
    if near is None or store.latitude is None or store.longitude is None:
        return None
    lat1, lat2 = math.radians(near.latitude), math.radians(store.latitude)
    d_lat = lat2 - lat1
    d_lng = math.radians(store.longitude - near.longitude)
    a = math.sin(d_lat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(d_lng / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a))))


def _spans(hours: dict[str, list[list[str]]], day: str) -> list[str]:
    return [f"{start}-{end}" for start, end in hours.get(day, [])]


def hours_now(hours: dict[str, list[list[str]]], when: datetime | None = None) -> HoursNow:
    """Today's hours and whether the store is open at ``when`` (now by default), both in
    Asia/Shanghai time; an evening span that runs past midnight keeps the store open."""
    local = clock.local(when or clock.now())
    if not hours:
        return HoursNow(given=False, today=[], open_now=False)
    today = opening_hours.DAYS[local.weekday()]
    return HoursNow(
        given=True, today=_spans(hours, today), open_now=opening_hours.is_open(hours, local)
    )


def week(hours: dict[str, list[list[str]]]) -> list[tuple[str, list[str]]]:
    """Each day of the week, Monday first, with its spans (empty: closed that day)."""
    return [(day, _spans(hours, day)) for day in opening_hours.DAYS]
