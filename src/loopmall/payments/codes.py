"""Static payment codes (收款码): one per store and one per guide, printed as QR codes.

The QR code holds ``{base_url}/m/{slug}/qr/{code}``; ``code`` is 120 random bits, so codes
cannot be enumerated. A guide's code credits the guide and the guide's (first) store.
Paying one makes a face-to-face order (``orders.service.create_face_to_face_order``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.identity.models import Staff, StaffStore
from loopmall.merchants.models import Store
from loopmall.orders import service as orders
from loopmall.payments.models import PaymentCode
from loopmall.payments.rules import PaymentCodeNotFound, new_code

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


async def _first_store(session: AsyncSession, tenant: Tenant, staff_id: int) -> int | None:
    store_id: int | None = await session.scalar(
        select(StaffStore.store_id)
        .where(StaffStore.merchant_id == tenant.id, StaffStore.staff_id == staff_id)
        .order_by(StaffStore.id)
        .limit(1)
    )
    return store_id


async def ensure_codes(session: AsyncSession, tenant: Tenant) -> int:
    """Give every store and every active guide a code if they have none; returns how many
    were made. Safe to run concurrently (a code made by another run is kept)."""
    have = {
        (c.store_id, c.guide_staff_id)
        for c in (await session.scalars(scoped(PaymentCode, tenant))).all()
    }
    have_store = {s for s, g in have if g is None}
    have_guide = {g for _s, g in have if g is not None}
    wanted: list[tuple[int | None, int | None]] = []
    for store_id in (
        await session.scalars(
            select(Store.id).where(Store.merchant_id == tenant.id).order_by(Store.id)
        )
    ).all():
        if store_id not in have_store:
            wanted.append((store_id, None))
    guides = await session.scalars(
        select(Staff.id)
        .where(Staff.merchant_id == tenant.id, Staff.role == GUIDE_ROLE, Staff.active.is_(True))
        .order_by(Staff.id)
    )
    for staff_id in guides.all():
        if staff_id not in have_guide:
            wanted.append((await _first_store(session, tenant, staff_id), staff_id))
    made = 0
    for for_store, for_guide in wanted:
        try:
            async with session.begin_nested():
                session.add(
                    PaymentCode(
                        merchant_id=tenant.id,
                        public_id=new_public_id("pcd"),
                        code=new_code(),
                        store_id=for_store,
                        guide_staff_id=for_guide,
                        active=True,
                        created_at=clock.now(),
                    )
                )
            made += 1
        except IntegrityError:
            continue
    return made


async def _views(session: AsyncSession, tenant: Tenant, codes: list[PaymentCode]) -> list[CodeView]:
    store_ids = {c.store_id for c in codes if c.store_id}
    staff_ids = {c.guide_staff_id for c in codes if c.guide_staff_id}
    stores = (
        {
            s.id: s
            for s in (await session.scalars(scoped(Store, tenant, Store.id.in_(store_ids)))).all()
        }
        if store_ids
        else {}
    )
    staff = (
        {
            s.id: s
            for s in (await session.scalars(scoped(Staff, tenant, Staff.id.in_(staff_ids)))).all()
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
                Store.merchant_id == tenant.id, Store.id.in_(store_ids)
            )
        )
        stores = {i: n for i, n in rows.all()}
    if staff_ids:
        rows = await session.execute(
            select(Staff.id, Staff.name).where(
                Staff.merchant_id == tenant.id, Staff.id.in_(staff_ids)
            )
        )
        staff = {i: n for i, n in rows.all()}
    return stores, staff


async def list_codes(
    session: AsyncSession, tenant: Tenant, *, store_ids: frozenset[int] | None = None
) -> list[CodeView]:
    """The merchant's codes, stores first; store-scoped staff see their stores' codes."""
    stmt = scoped(PaymentCode, tenant, PaymentCode.active.is_(True))
    if store_ids is not None:
        stmt = stmt.where(PaymentCode.store_id.in_(store_ids))
    rows = (
        await session.scalars(stmt.order_by(PaymentCode.guide_staff_id.isnot(None), PaymentCode.id))
    ).all()
    return await _views(session, tenant, list(rows))


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


def qr_png(content: str, *, scale: int = 8) -> bytes:
    out = io.BytesIO()
    segno.make(content, error="m").save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


def qr_svg(content: str, *, scale: int = 8) -> bytes:
    out = io.BytesIO()
    segno.make(content, error="m").save(out, kind="svg", scale=scale, border=2, xmldecl=False)
    return out.getvalue()


def qr_data_uri(content: str, *, scale: int = 6) -> str:
    return str(segno.make(content, error="m").png_data_uri(scale=scale, border=2))
