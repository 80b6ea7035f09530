"""Static payment codes (收款码): one per store and one per guide, printed as QR codes.

A code is made the first time its store or guide is shown on a page of the list
(:func:`shown_page`), at most a page of them at a time; no request makes or reads every
store's code. The list is paged by a cursor over (stores, then guides) and filtered by store
and by name.

The QR code holds ``{base_url}/m/{slug}/qr/{code}``; ``code`` is 120 random bits, so codes
cannot be enumerated. A guide's code credits the guide and the guide's (first) store.
Paying one makes a face-to-face order (``orders.service.create_face_to_face_order``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loopmall.core import clock
from loopmall.core.errors import NotFound, OutOfRange, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.uow import UnitOfWork
from loopmall.core.valueset import chunks, one_of
from loopmall.merchants.models import Store
from loopmall.orders import service as orders
from loopmall.payments.models import PaymentCode
from loopmall.payments.rules import PaymentCodeNotFound, new_code
from loopmall.staff.models import Staff, StaffStore

GUIDE_ROLE = "guide"


@dataclass(frozen=True)
class CodeView:
    """A code with the names a customer and a printed card show."""

    code: PaymentCode
    store_name: str | None
    store_public_id: str | None
    guide_name: str | None
    guide_public_id: str | None

    @property
    def label(self) -> str:
        if self.guide_name and self.store_name:
            return f"{self.store_name} · {self.guide_name}"
        return self.guide_name or self.store_name or ""


def code_url(base_url: str, slug: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/m/{slug}/qr/{code}"


async def _first_stores(
    session: AsyncSession, tenant: Tenant, staff_ids: Collection[int]
) -> dict[int, int]:
    """Each guide's first store (the one their code credits), for a page of guides."""
    if not staff_ids:
        return {}
    first = (
        select(func.min(StaffStore.id))
        .where(StaffStore.merchant_id == tenant.id, one_of(StaffStore.staff_id, staff_ids))
        .group_by(StaffStore.staff_id)
    )
    rows = await session.execute(
        select(StaffStore.staff_id, StaffStore.store_id).where(StaffStore.id.in_(first))
    )
    return {staff_id: store_id for staff_id, store_id in rows.all()}


@dataclass(frozen=True)
class CodeQuery:
    """Which codes a list shows: ``store`` (a store id) keeps that store's code and its
    guides' codes; ``q`` searches store names and codes and guide names; ``store_ids`` is
    a store-scoped viewer's stores (None: every store)."""

    store_ids: frozenset[int] | None = None
    store: int | None = None
    q: str = ""


@dataclass(frozen=True)
class CodePage:
    """One page of code holders (stores first, then active guides). ``views`` has a code
    for each holder that has one; ``missing`` the holders that have none yet."""

    views: list[CodeView]
    missing: list[tuple[int | None, int | None]]
    next_cursor: str | None


async def store_filter(
    session: AsyncSession, tenant: Tenant, public_id: str | None, store_ids: frozenset[int] | None
) -> int | None:
    """The id of the store a list is filtered by (None: no filter); 404 ``not_found`` for
    another merchant's store or one outside the viewer's stores."""
    if not public_id:
        return None
    store_id: int | None = await session.scalar(
        select(Store.id).where(Store.merchant_id == tenant.id, Store.public_id == public_id)
    )
    if store_id is None or (store_ids is not None and store_id not in store_ids):
        raise NotFound("No such store", store=public_id)
    return store_id


def _cursor_key(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return (0, 0)
    key = decode_cursor(cursor)
    if (
        not isinstance(key, list)
        or len(key) != 2
        or key[0] not in (0, 1)
        or not all(isinstance(k, int) and not isinstance(k, bool) for k in key)
        or not 0 <= key[1] < 2**63
    ):
        raise ValidationFailed("The cursor is not valid", field="cursor")
    return (key[0], key[1])


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _in_scope_guides(tenant: Tenant, store_ids: Collection[int]) -> Any:
    return exists().where(
        StaffStore.merchant_id == tenant.id,
        StaffStore.staff_id == Staff.id,
        one_of(StaffStore.store_id, store_ids),
    )


async def _holders(
    session: AsyncSession, tenant: Tenant, query: CodeQuery, after: tuple[int, int], limit: int
) -> list[tuple[int, Store | Staff]]:
    """Up to ``limit`` holders after the key ``after``, in (kind, id) order."""
    out: list[tuple[int, Store | Staff]] = []
    if after[0] == 0:
        stores = scoped(Store, tenant, Store.id > after[1])
        if query.store_ids is not None:
            stores = stores.where(one_of(Store.id, query.store_ids))
        if query.store is not None:
            stores = stores.where(Store.id == query.store)
        if query.q:
            pattern = _like(query.q)
            stores = stores.where(
                Store.name.ilike(pattern, escape="\\") | Store.code.ilike(pattern, escape="\\")
            )
        rows = await session.scalars(stores.order_by(Store.id).limit(limit))
        out.extend((0, s) for s in rows.all())
    if len(out) < limit:
        guides = scoped(
            Staff,
            tenant,
            Staff.role == GUIDE_ROLE,
            Staff.active.is_(True),
            Staff.id > (after[1] if after[0] == 1 else 0),
        )
        if query.store_ids is not None:
            guides = guides.where(_in_scope_guides(tenant, query.store_ids))
        if query.store is not None:
            guides = guides.where(_in_scope_guides(tenant, (query.store,)))
        if query.q:
            guides = guides.where(Staff.name.ilike(_like(query.q), escape="\\"))
        rows_g = await session.scalars(guides.order_by(Staff.id).limit(limit - len(out)))
        out.extend((1, g) for g in rows_g.all())
    return out


async def list_page(
    session: AsyncSession,
    tenant: Tenant,
    query: CodeQuery,
    *,
    cursor: str | None = None,
    limit: int = 24,
) -> CodePage:
    """One page of the merchant's codes, stores first, then active guides (store-scoped
    staff: their stores and the guides working there). Work and parameters are bounded by
    ``limit`` (at most ``MAX_LIMIT``), never by the number of stores or guides. Raises
    ``validation_failed`` for a bad cursor or limit."""
    if limit < 1 or limit > MAX_LIMIT:
        raise OutOfRange(
            f"limit must be between 1 and {MAX_LIMIT}", field="limit", low=1, high=MAX_LIMIT
        )
    holders = await _holders(session, tenant, query, _cursor_key(cursor), limit + 1)
    next_cursor = None
    if len(holders) > limit:
        holders = holders[:limit]
        kind, last = holders[-1]
        next_cursor = encode_cursor([kind, last.id])
    store_ids = [h.id for k, h in holders if k == 0]
    guide_ids = [h.id for k, h in holders if k == 1]
    found: dict[tuple[int, int], PaymentCode] = {}
    if store_ids:
        for c in await session.scalars(
            scoped(
                PaymentCode,
                tenant,
                one_of(PaymentCode.store_id, store_ids),
                PaymentCode.guide_staff_id.is_(None),
                PaymentCode.active.is_(True),
            )
        ):
            found[(0, c.store_id or 0)] = c
    if guide_ids:
        for c in await session.scalars(
            scoped(
                PaymentCode,
                tenant,
                one_of(PaymentCode.guide_staff_id, guide_ids),
                PaymentCode.active.is_(True),
            )
        ):
            found[(1, c.guide_staff_id or 0)] = c
    codes_shown = [found[(k, h.id)] for k, h in holders if (k, h.id) in found]
    missing: list[tuple[int | None, int | None]] = [
        (h.id, None) if k == 0 else (None, h.id) for k, h in holders if (k, h.id) not in found
    ]
    views = await _views(session, tenant, codes_shown)
    return CodePage(views=views, missing=missing, next_cursor=next_cursor)


async def make_codes(
    session: AsyncSession, tenant: Tenant, holders: Sequence[tuple[int | None, int | None]]
) -> int:
    """A code for each (store id, None) and (None, guide id) of ``holders`` that has none
    (a guide's code credits their first store), in multi-row inserts; returns how many were
    made. Safe to run concurrently: a code made meanwhile by another run is kept."""
    guides = [g for _s, g in holders if g is not None]
    first = await _first_stores(session, tenant, guides)
    now = clock.now()
    rows = [
        {
            "merchant_id": tenant.id,
            "public_id": new_public_id("pcd"),
            "code": new_code(),
            "store_id": first.get(for_guide) if for_guide is not None else for_store,
            "guide_staff_id": for_guide,
            "active": True,
            "created_at": now,
        }
        for for_store, for_guide in holders
    ]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    made = 0
    # A holder given a code meanwhile (the one-active-code indexes) is skipped, not an error.
    for part in chunks(rows, 100):
        result = await session.execute(
            insert(PaymentCode).values(list(part)).on_conflict_do_nothing()
        )
        made += max(getattr(result, "rowcount", 0) or 0, 0)
    return made


async def shown_page(
    read_factory: async_sessionmaker[AsyncSession],
    write_factory: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    query: CodeQuery,
    *,
    cursor: str | None = None,
    limit: int = 24,
) -> CodePage:
    """A page of codes as a list shows it: holders on the page that have no code yet get
    one first (in its own short write; at most ``limit`` of them), so a store or guide is
    given its code the first time it is shown, never all at once."""
    async with UnitOfWork(read_factory) as uow:
        page = await list_page(uow.session, tenant, query, cursor=cursor, limit=limit)
    if not page.missing:
        return page
    async with UnitOfWork(write_factory) as uow:
        await make_codes(uow.session, tenant, page.missing)
        await uow.commit()
    async with UnitOfWork(read_factory) as uow:
        return await list_page(uow.session, tenant, query, cursor=cursor, limit=limit)


async def ensure_codes(session: AsyncSession, tenant: Tenant, *, batch: int = MAX_LIMIT) -> int:
    """Give every store and every active guide a code if they have none, a page at a time
    (for the demo and for jobs, never for a request); returns how many were made."""
    made = 0
    cursor: str | None = None
    while True:
        page = await list_page(session, tenant, CodeQuery(), cursor=cursor, limit=batch)
        made += await make_codes(session, tenant, page.missing)
        if page.next_cursor is None:
            return made
        cursor = page.next_cursor


async def _views(session: AsyncSession, tenant: Tenant, codes: list[PaymentCode]) -> list[CodeView]:
    store_ids = {c.store_id for c in codes if c.store_id}
    staff_ids = {c.guide_staff_id for c in codes if c.guide_staff_id}
    stores = (
        {
            s.id: s
            for s in (
                await session.scalars(scoped(Store, tenant, one_of(Store.id, store_ids)))
            ).all()
        }
        if store_ids
        else {}
    )
    staff = (
        {
            s.id: s
            for s in (
                await session.scalars(scoped(Staff, tenant, one_of(Staff.id, staff_ids)))
            ).all()
        }
        if staff_ids
        else {}
    )
    views = []
    for c in codes:
        store = stores.get(c.store_id) if c.store_id else None
        guide = staff.get(c.guide_staff_id) if c.guide_staff_id else None
        views.append(
            CodeView(
                code=c,
                store_name=store.name if store else None,
                store_public_id=store.public_id if store else None,
                guide_name=guide.name if guide else None,
                guide_public_id=guide.public_id if guide else None,
            )
        )
    return views


async def names(
    session: AsyncSession, tenant: Tenant, store_ids: set[int], staff_ids: set[int]
) -> tuple[dict[int, str], dict[int, str]]:
    """Store names and staff names by id (for lists of payments credited to them)."""
    stores: dict[int, str] = {}
    staff: dict[int, str] = {}
    if store_ids:
        rows = await session.execute(
            select(Store.id, Store.name).where(
                Store.merchant_id == tenant.id, one_of(Store.id, store_ids)
            )
        )
        stores = {i: n for i, n in rows.all()}
    if staff_ids:
        rows = await session.execute(
            select(Staff.id, Staff.name).where(
                Staff.merchant_id == tenant.id, one_of(Staff.id, staff_ids)
            )
        )
        staff = {i: n for i, n in rows.all()}
    return stores, staff


async def get_code_by_id(
    session: AsyncSession, tenant: Tenant, public_id: str, *, store_ids: frozenset[int] | None
) -> CodeView:
    """The active code with this public id, if the viewer's stores include its store;
    404 ``payment_code_not_found`` otherwise."""
    stmt = scoped(
        PaymentCode, tenant, PaymentCode.public_id == public_id, PaymentCode.active.is_(True)
    )
    if store_ids is not None:
        stmt = stmt.where(one_of(PaymentCode.store_id, store_ids))
    row = await session.scalar(stmt)
    if row is None:
        raise PaymentCodeNotFound()
    return (await _views(session, tenant, [row]))[0]


async def get_code(session: AsyncSession, tenant: Tenant, code: str) -> CodeView:
    """The active code ``code`` of this merchant; 404 ``payment_code_not_found`` otherwise."""
    row = await session.scalar(
        scoped(PaymentCode, tenant, PaymentCode.code == code, PaymentCode.active.is_(True))
    )
    if row is None:
        raise PaymentCodeNotFound()
    return (await _views(session, tenant, [row]))[0]


async def pay_by_code(
    session: AsyncSession,
    tenant: Tenant,
    code: str,
    *,
    amount_fen: int,
    customer_id: int | None,
    note: str = "",
) -> orders.PayableOrder:
    """The face-to-face order for ``amount_fen`` typed on ``code``'s page, credited to the
    code's store/guide (the caller starts its payment). Raises 404 for an unknown code,
    422 for an amount outside 0.01 – 1,000,000 yuan."""
    view = await get_code(session, tenant, code)
    return await orders.create_face_to_face_order(
        session,
        tenant,
        amount_fen=amount_fen,
        store_id=view.code.store_id,
        guide_staff_id=view.code.guide_staff_id,
        customer_id=customer_id,
        note=note or view.label,
    )
