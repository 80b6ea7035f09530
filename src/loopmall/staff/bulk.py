"""Staff in bulk: check imported rows, upsert them by phone, replace their store assignments.

A chain brings 20,000 guides at once (S0). Like ``merchants.bulk``, this reads what exists
in one query per table and writes with chunked ``INSERT … ON CONFLICT … DO UPDATE``
statements; the caller owns the single transaction. Imported staff have no password
(``password_hash`` NULL) and cannot log in until one is set.

A row's ``stores`` cell lists store codes (``SH001|SH002``); when the file has that column
the staff member's assignments become exactly those stores. Codes must already exist for
the merchant: a guide assigned to an unknown store is a bad row, not a new store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant
from loopmall.core.text import is_clean
from loopmall.identity.credentials import MOBILE, normalize_phone
from loopmall.identity.permissions import STORE_SCOPED_ROLES, Role
from loopmall.merchants.bulk import (
    OnProgress,
    RowIssue,
    UpsertCounts,
    cell_text,
    dialect_insert,
    store_ids_by_code,
)
from loopmall.staff.models import Staff, StaffStore

STAFF_FIELDS = ("phone", "name", "role", "stores", "employee_no")
REQUIRED_STAFF_FIELDS = frozenset({"phone", "name", "role"})
MAX_LENGTH = {"name": 50, "employee_no": 40}

# A mainland China mobile number, as staff log in with it.
_CODE_SEPARATORS = re.compile(r"[|;,、；，]")

ROLE_NAMES: dict[str, Role] = {
    "owner": Role.OWNER,
    "店主": Role.OWNER,
    "老板": Role.OWNER,
    "manager": Role.MANAGER,
    "经理": Role.MANAGER,
    "store_manager": Role.STORE_MANAGER,
    "店长": Role.STORE_MANAGER,
    "guide": Role.GUIDE,
    "导购": Role.GUIDE,
    "cashier": Role.CASHIER,
    "收银": Role.CASHIER,
    "收银员": Role.CASHIER,
}

REASONS: dict[str, str] = {
    "required": "This column must not be empty",
    "too_long": "At most %(max)s characters",
    "control_chars": "Contains control characters",
    "bad_phone": "Not an 11-digit mobile number: %(value)s",
    "duplicate_phone": "Phone %(value)s is also on row %(first)s",
    "bad_role": "Not a role: %(value)s (owner, manager, store_manager, guide, cashier)",
    "unknown_store": "No store with code %(value)s",
    "store_required": "This role must be assigned to at least one store",
    "owner_required": "Only an owner may add, change or promote owners and managers",
    "last_owner": "The merchant's last active owner cannot be demoted",
}

UPSERT_CHUNK = 2000
MANAGING_ROLES = frozenset({Role.OWNER, Role.MANAGER})
MANAGING_VALUES = frozenset(r.value for r in MANAGING_ROLES)


@dataclass(slots=True)
class StaffRecord:
    """A checked staff row, ready to write."""

    row: int
    phone: str
    name: str
    role: Role
    employee_no: str = ""
    store_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Existing:
    """A staff member already there, as far as checking an import needs."""

    role: str
    active: bool
    has_stores: bool


@dataclass(slots=True)
class StaffImportContext:
    """What a staff import checks rows against, read once: the stores and existing staff."""

    store_ids: dict[str, int]
    existing: dict[str, Existing] = field(default_factory=dict)

    def active_owners(self) -> set[str]:
        return {p for p, e in self.existing.items() if e.role == Role.OWNER.value and e.active}


def parse_role(text: str) -> Role | None:
    """``guide``, ``Store manager``, ``导购``, ``店长``… → Role; anything else → None."""
    key = re.sub(r"[\s\-]+", "_", text.strip().lower())
    return ROLE_NAMES.get(key)


def split_codes(text: str) -> list[str]:
    """``SH001|SH002``, ``SH001;SH002``, ``SH001、SH002`` → codes, in order, once each."""
    seen: dict[str, None] = {}
    for part in _CODE_SEPARATORS.split(text):
        code = part.strip()
        if code:
            seen.setdefault(code, None)
    return list(seen)


async def load_staff_context(session: AsyncSession, tenant: Tenant) -> StaffImportContext:
    """The merchant's stores by code and its existing staff by phone (a few queries).

    On PostgreSQL the active owners' rows stay locked (primary-key order) until the
    import's transaction ends, so two imports cannot each demote "the other" last owner.
    """
    await session.execute(
        select(Staff.id)
        .where(
            Staff.merchant_id == tenant.id,
            Staff.role == Role.OWNER.value,
            Staff.active.is_(True),
        )
        .order_by(Staff.id)
        .with_for_update()
    )
    assigned = set(
        await session.scalars(
            select(StaffStore.staff_id).where(StaffStore.merchant_id == tenant.id).distinct()
        )
    )
    rows = await session.execute(
        select(Staff.id, Staff.phone, Staff.role, Staff.active).where(
            Staff.merchant_id == tenant.id
        )
    )
    return StaffImportContext(
        store_ids=await store_ids_by_code(session, tenant),
        existing={
            phone: Existing(role, active, staff_id in assigned)
            for staff_id, phone, role, active in rows
        },
    )


def _cell(values: Mapping[str, str], key: str, row: int, issues: list[RowIssue]) -> str:
    # Names and numbers follow core.text's rule, as when adding one person (staff.service).
    return cell_text(
        values,
        key,
        row,
        issues,
        required=key in REQUIRED_STAFF_FIELDS,
        max_length=MAX_LENGTH.get(key),
        allowed=is_clean,
    )


class StaffRowChecker:
    """Checks staff rows one by one; remembers phones to catch duplicates in the file.

    The rules are those of adding one person (``staff.service``): ``may_import_owners``
    is False when the person importing is not an owner, and then rows that make someone an
    owner or manager, or touch an existing one, are bad rows (no way up by import). Call
    :meth:`finish` after the last row for the rules about the file as a whole.
    """

    def __init__(
        self, fields: frozenset[str], context: StaffImportContext, *, may_import_owners: bool
    ) -> None:
        self.fields = fields
        self.context = context
        self.may_import_owners = may_import_owners
        self.records: list[StaffRecord] = []
        self.issues: list[RowIssue] = []
        self._first_row: dict[str, int] = {}

    def check(self, row: int, values: Mapping[str, str]) -> StaffRecord | None:
        issues: list[RowIssue] = []
        raw_phone = _cell(values, "phone", row, issues)
        phone = normalize_phone(raw_phone)
        if raw_phone and not MOBILE.match(phone):
            issues.append(RowIssue(row, "phone", "bad_phone", {"value": raw_phone}))
        name = _cell(values, "name", row, issues)
        role_text = _cell(values, "role", row, issues)
        role = parse_role(role_text) if role_text else None
        if role_text and role is None:
            issues.append(RowIssue(row, "role", "bad_role", {"value": role_text}))
        employee_no = _cell(values, "employee_no", row, issues)

        existing = self.context.existing.get(phone)
        store_ids: list[int] = []
        if "stores" in self.fields:
            codes = split_codes(values.get("stores", ""))
            unknown = [c for c in codes if c not in self.context.store_ids]
            if unknown:
                issues.append(
                    RowIssue(row, "stores", "unknown_store", {"value": ", ".join(unknown)})
                )
            store_ids = [self.context.store_ids[c] for c in codes if c not in unknown]
            has_stores = bool(codes)
        else:
            # Without the column assignments stay as they are: only existing ones count.
            has_stores = existing is not None and existing.has_stores
        if role in STORE_SCOPED_ROLES and not has_stores:
            issues.append(RowIssue(row, "stores", "store_required"))

        if not self.may_import_owners:
            if role in MANAGING_ROLES:
                issues.append(RowIssue(row, "role", "owner_required"))
            elif existing is not None and existing.role in MANAGING_VALUES:
                issues.append(RowIssue(row, "phone", "owner_required"))

        if MOBILE.match(phone):
            first = self._first_row.setdefault(phone, row)
            if first != row:
                issues.append(
                    RowIssue(row, "phone", "duplicate_phone", {"value": phone, "first": first})
                )
        if issues or role is None:
            self.issues.extend(issues)
            return None
        record = StaffRecord(row, phone, name, role, employee_no, tuple(store_ids))
        self.records.append(record)
        return record

    def finish(self) -> None:
        """Rules about the whole file: it may not demote the merchant's last active owner."""
        demoted = {r.phone: r.row for r in self.records if r.role is not Role.OWNER}
        owners = self.context.active_owners()
        promoted = any(r.role is Role.OWNER for r in self.records)
        if owners and not promoted and owners <= set(demoted):
            for phone in sorted(owners, key=demoted.__getitem__):
                self.issues.append(RowIssue(demoted[phone], "role", "last_owner"))


async def upsert_staff(
    session: AsyncSession,
    tenant: Tenant,
    records: Sequence[StaffRecord],
    fields: frozenset[str],
    context: StaffImportContext,
    *,
    on_progress: OnProgress | None = None,
) -> UpsertCounts:
    """Create or update the merchant's staff by phone, and (when the file has a ``stores``
    column) make each one's store assignments exactly the listed stores.

    Existing staff keep their password, public id and active flag; only the columns in
    ``fields`` change. Records must come from :class:`StaffRowChecker` with this
    ``context``. Progress counts the staff rows, then their assignments. Never commits.
    """
    if not records:
        return UpsertCounts(0, 0)
    now = clock.now()
    table = Staff.__table__
    update_columns = [f for f in ("name", "role", "employee_no") if f in fields] + ["updated_at"]
    # Compiled once, run as executemany per chunk (see merchants.bulk.upsert_stores).
    stmt = dialect_insert(session)(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.merchant_id, table.c.phone],
        set_={name: stmt.excluded[name] for name in update_columns},
    )
    total = len(records) * (2 if "stores" in fields else 1)
    done = 0
    for start in range(0, len(records), UPSERT_CHUNK):
        chunk = records[start : start + UPSERT_CHUNK]
        await session.execute(
            stmt,
            [
                {
                    "merchant_id": tenant.id,
                    "public_id": new_public_id("stf"),
                    "phone": r.phone,
                    "name": r.name,
                    "role": r.role.value,
                    "employee_no": r.employee_no,
                    "password_hash": None,
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for r in chunk
            ],
        )
        done += len(chunk)
        if on_progress is not None:
            await on_progress(done, total)

    if "stores" in fields:
        await _replace_assignments(session, tenant, records, done, total, on_progress)
    updated = sum(1 for r in records if r.phone in context.existing)
    return UpsertCounts(created=len(records) - updated, updated=updated)


async def _replace_assignments(
    session: AsyncSession,
    tenant: Tenant,
    records: Sequence[StaffRecord],
    done: int,
    total: int,
    on_progress: OnProgress | None,
) -> None:
    # Diff against what is there, so re-importing an unchanged file writes nothing here.
    ids = await session.execute(select(Staff.phone, Staff.id).where(Staff.merchant_id == tenant.id))
    staff_id = {phone: sid for phone, sid in ids}
    wanted = {(staff_id[r.phone], store) for r in records for store in r.store_ids}
    imported = {staff_id[r.phone] for r in records}
    current = await session.execute(
        select(StaffStore.id, StaffStore.staff_id, StaffStore.store_id).where(
            StaffStore.merchant_id == tenant.id
        )
    )
    have: set[tuple[int, int]] = set()
    stale: list[int] = []
    for row_id, sid, store in current:
        if sid not in imported:
            continue
        if (sid, store) in wanted:
            have.add((sid, store))
        else:
            stale.append(row_id)
    for start in range(0, len(stale), UPSERT_CHUNK):
        await session.execute(
            delete(StaffStore).where(StaffStore.id.in_(stale[start : start + UPSERT_CHUNK]))
        )
    missing = sorted(wanted - have)
    for start in range(0, len(missing), UPSERT_CHUNK):
        chunk = missing[start : start + UPSERT_CHUNK]
        await session.execute(
            insert(StaffStore),
            [{"merchant_id": tenant.id, "staff_id": s, "store_id": st} for s, st in chunk],
        )
        if on_progress is not None:
            share = (start + len(chunk)) * len(records) // max(len(missing), 1)
            await on_progress(done + share, total)
    if on_progress is not None:
        await on_progress(total, total)
