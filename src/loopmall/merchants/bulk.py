"""Stores in bulk: check imported rows, then upsert them by store code in a few statements.

A chain brings 1,800 stores at once (S0), so nothing here goes row by row to the database:
the existing codes are read in one query and the rows are written with chunked
``INSERT … ON CONFLICT (merchant_id, code) DO UPDATE`` statements. The caller owns the
transaction (one unit of work for the whole file) and commits.

Rows arrive as ``{field: text}`` for the columns the file has. A column the file does not
have is left as it is on stores that already exist (and gets its default on new ones), so a
file with only codes and phone numbers updates phone numbers and nothing else.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant
from loopmall.core.text import is_clean
from loopmall.merchants import hours as opening_hours
from loopmall.merchants.events import StoresChanged
from loopmall.merchants.models import Merchant, Store

# Progress callback: (rows done, rows in all). Awaited, so it may publish progress.
OnProgress = Callable[[int, int], Awaitable[None]]

STORE_FIELDS = (
    "code",
    "name",
    "city",
    "district",
    "address",
    "phone",
    "latitude",
    "longitude",
    "opening_hours",
    "pickup",
)
REQUIRED_STORE_FIELDS = frozenset({"code", "name"})
MAX_LENGTH = {"code": 40, "name": 100, "city": 50, "district": 50, "address": 255, "phone": 30}

YES = frozenset({"是", "yes", "y", "1", "true", "t", "开", "开启", "on"})
NO = frozenset({"否", "no", "n", "0", "false", "f", "关", "关闭", "off"})
_STORE_PHONE = re.compile(r"^\+?[0-9][0-9\- ()]{4,29}$")

# Each rule a row can break, as an English message with %(name)s placeholders. The codes are
# stable (API clients match on them); the messages are translated where they are shown.
REASONS: dict[str, str] = {
    "required": "This column must not be empty",
    "too_long": "At most %(max)s characters",
    "control_chars": "Contains control characters",
    "code_spaces": "The store code must not contain spaces",
    "duplicate_code": "Store code %(value)s is also on row %(first)s",
    "bad_number": "Not a number: %(value)s",
    "latitude_range": "Latitude must be between -90 and 90",
    "longitude_range": "Longitude must be between -180 and 180",
    "coordinates_pair": "Give both latitude and longitude, or neither",
    "bad_hours": "Not opening hours like 10:00-22:00 or mon-fri 10:00-22:00 (%(detail)s)",
    "bad_yes_no": "Write 是/否 or yes/no, not %(value)s",
    "bad_store_phone": "Not a phone number: %(value)s",
}

UPSERT_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class RowIssue:
    """One thing wrong with one row: the row number as the user sees it, the field, the rule."""

    row: int
    field: str
    code: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(slots=True)
class StoreRecord:
    """A checked store row, ready to write."""

    row: int
    code: str
    name: str
    city: str = ""
    district: str = ""
    address: str = ""
    phone: str = ""
    latitude: float | None = None
    longitude: float | None = None
    opening_hours: dict[str, list[list[str]]] = field(default_factory=dict)
    pickup_enabled: bool = True


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    created: int
    updated: int


def parse_yes_no(text: str) -> bool | None:
    """``是/否``, ``yes/no``, ``1/0``, ``true/false`` → bool; anything else → None."""
    value = text.strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    return None


def _coordinate(
    text: str, name: str, low: float, high: float, issues: list[RowIssue], row: int
) -> float | None:
    try:
        value = float(text)
    except ValueError:
        issues.append(RowIssue(row, name, "bad_number", {"value": text}))
        return None
    if not math.isfinite(value) or not low <= value <= high:
        issues.append(RowIssue(row, name, f"{name}_range"))
        return None
    return value


def cell_text(
    values: Mapping[str, str],
    key: str,
    row: int,
    issues: list[RowIssue],
    *,
    required: bool,
    max_length: int | None,
    allowed: Callable[[str], bool],
) -> str:
    """A cell's text, stripped; an empty required cell, an over-long one or one that
    ``allowed`` refuses adds a ``required``/``too_long``/``control_chars`` issue."""
    text = values.get(key, "").strip()
    if required and not text:
        issues.append(RowIssue(row, key, "required"))
    elif max_length is not None and len(text) > max_length:
        issues.append(RowIssue(row, key, "too_long", {"max": max_length}))
    elif not allowed(text):
        issues.append(RowIssue(row, key, "control_chars"))
    return text


def _cell(values: Mapping[str, str], key: str, row: int, issues: list[RowIssue]) -> str:
    return cell_text(
        values,
        key,
        row,
        issues,
        required=key in REQUIRED_STORE_FIELDS,
        max_length=MAX_LENGTH.get(key),
        allowed=is_clean,
    )


class StoreRowChecker:
    """Checks store rows one by one and remembers codes, to catch duplicates in the file.

    ``check`` never raises: it returns the record, or None and records why in ``issues``.
    """

    def __init__(self, fields: frozenset[str]) -> None:
        self.fields = fields
        self.records: list[StoreRecord] = []
        self.issues: list[RowIssue] = []
        self._first_row: dict[str, int] = {}

    def check(self, row: int, values: Mapping[str, str]) -> StoreRecord | None:  # noqa: C901, PLR0912 (one check per column of the import sheet)
        issues: list[RowIssue] = []
        code = _cell(values, "code", row, issues)
        if any(c.isspace() for c in code):
            issues.append(RowIssue(row, "code", "code_spaces"))
        record = StoreRecord(row=row, code=code, name=_cell(values, "name", row, issues))
        for key in ("city", "district", "address"):
            setattr(record, key, _cell(values, key, row, issues))
        record.phone = _cell(values, "phone", row, issues)
        if record.phone and not _STORE_PHONE.match(record.phone):
            issues.append(RowIssue(row, "phone", "bad_store_phone", {"value": record.phone}))

        lat_text = values.get("latitude", "").strip()
        lng_text = values.get("longitude", "").strip()
        if lat_text:
            record.latitude = _coordinate(lat_text, "latitude", -90, 90, issues, row)
        if lng_text:
            record.longitude = _coordinate(lng_text, "longitude", -180, 180, issues, row)
        if bool(lat_text) != bool(lng_text):
            missing = "longitude" if lat_text else "latitude"
            issues.append(RowIssue(row, missing, "coordinates_pair"))

        hours_text = values.get("opening_hours", "").strip()
        try:
            record.opening_hours = opening_hours.parse(hours_text)
        except opening_hours.OpeningHoursError as exc:
            issues.append(RowIssue(row, "opening_hours", "bad_hours", {"detail": str(exc)}))

        pickup_text = values.get("pickup", "").strip()
        if pickup_text:
            pickup = parse_yes_no(pickup_text)
            if pickup is None:
                issues.append(RowIssue(row, "pickup", "bad_yes_no", {"value": pickup_text}))
            else:
                record.pickup_enabled = pickup

        if code:
            first = self._first_row.setdefault(code, row)
            if first != row:
                issues.append(
                    RowIssue(row, "code", "duplicate_code", {"value": code, "first": first})
                )
        if issues:
            self.issues.extend(issues)
            return None
        self.records.append(record)
        return record

    def finish(self) -> None:
        """Rules about the file as a whole: none for stores beyond duplicate codes."""


async def tenant_for_slug(session: AsyncSession, slug: str) -> Tenant:
    """The merchant with this slug as a ``Tenant``. Raises ``NotFound``."""
    merchant = await session.scalar(select(Merchant).where(Merchant.slug == slug.strip().lower()))
    if merchant is None:
        raise NotFound(f"No merchant {slug!r}")
    return Tenant(merchant.id, merchant.slug)


async def store_ids_by_code(session: AsyncSession, tenant: Tenant) -> dict[str, int]:
    """Every store of the merchant as ``{code: id}``, in one query."""
    rows = await session.execute(select(Store.code, Store.id).where(Store.merchant_id == tenant.id))
    return {code: store_id for code, store_id in rows}


def dialect_insert(session: AsyncSession) -> Any:
    """The backend's INSERT construct, which has ``on_conflict_do_update``."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


# Which Store columns each import field fills.
_COLUMNS_OF_FIELD = {
    "code": ("code",),
    "name": ("name",),
    "city": ("city",),
    "district": ("district",),
    "address": ("address",),
    "phone": ("phone",),
    "latitude": ("latitude",),
    "longitude": ("longitude",),
    "opening_hours": ("opening_hours",),
    "pickup": ("pickup_enabled",),
}


async def upsert_stores(
    session: AsyncSession,
    tenant: Tenant,
    records: Sequence[StoreRecord],
    fields: frozenset[str],
    *,
    on_progress: OnProgress | None = None,
) -> UpsertCounts:
    """Create or update the merchant's stores by code, in chunked bulk statements.

    Only the columns in ``fields`` are changed on existing stores. Records must come from
    :class:`StoreRowChecker` (checked, no duplicate codes). Flushes nothing through the ORM
    and never commits; the caller's transaction holds every row or none.
    """
    if not records:
        return UpsertCounts(0, 0)
    existing = set(await store_ids_by_code(session, tenant))
    now = clock.now()
    update_columns = [c for f in STORE_FIELDS if f in fields for c in _COLUMNS_OF_FIELD[f]]
    update_columns = [c for c in update_columns if c != "code"] + ["updated_at"]
    table = Store.__table__
    # One statement, compiled once, run as executemany per chunk: a multi-row VALUES list
    # costs SQLAlchemy a compile per chunk that took longer than the database's own work.
    stmt = dialect_insert(session)(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.merchant_id, table.c.code],
        set_={name: stmt.excluded[name] for name in update_columns},
    )
    done = 0
    for start in range(0, len(records), UPSERT_CHUNK):
        chunk = records[start : start + UPSERT_CHUNK]
        await session.execute(
            stmt,
            [
                {
                    "merchant_id": tenant.id,
                    "public_id": new_public_id("st"),
                    "code": r.code,
                    "name": r.name,
                    "city": r.city,
                    "district": r.district,
                    "address": r.address,
                    "phone": r.phone,
                    "latitude": r.latitude,
                    "longitude": r.longitude,
                    "opening_hours": r.opening_hours,
                    "pickup_enabled": r.pickup_enabled,
                    "status": "open",
                    "note": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for r in chunk
            ],
        )
        done += len(chunk)
        if on_progress is not None:
            await on_progress(done, len(records))
    updated = sum(1 for r in records if r.code in existing)
    # One event for the whole import: the stores' caches are emptied once, not per row.
    await publish(session, StoresChanged(merchant_id=tenant.id, stores=[], change="imported"))
    return UpsertCounts(created=len(records) - updated, updated=updated)
