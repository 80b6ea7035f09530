"""The console's store picker: which of a merchant's stores a form offers (#11, chain scale).

A chain has 1,800 stores; a page that names them all as options loads and renders every one.
The picker offers the chosen stores and a few others, and typing narrows them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant
from loopmall.core.valueset import one_of
from loopmall.merchants.models import Store


@dataclass(frozen=True, slots=True)
class StoreChoice:
    id: int
    public_id: str
    code: str
    name: str


# A store picker offers this many stores; typing narrows them (GET /api/v1/stores?q= with
# JavaScript, the picker's search form without). A chain has 1,800 stores: loading and
# rendering every one cost the console pages 1-3 s at p95 (bench chainscale, issue #11).
PICKER_LIMIT = 30


async def store_choices(
    session: AsyncSession,
    tenant: Tenant,
    store_ids: frozenset[int] | None,
    *,
    q: str | None = None,
    chosen: Collection[str] = (),
    limit: int = PICKER_LIMIT,
) -> list[StoreChoice]:
    """What a store picker offers someone (of the merchant's stores, or a store role's own):
    the ``chosen`` ones (public ids) first, then at most ``limit`` others whose code starts
    with ``q`` or whose name holds it, by code. Never more than ``len(chosen) + limit``."""
    base = select(Store.id, Store.public_id, Store.code, Store.name).where(
        Store.merchant_id == tenant.id
    )
    if store_ids is not None:
        base = base.where(one_of(Store.id, store_ids))
    picked: list[StoreChoice] = []
    # Every chosen one (a manager's 1,200 stores stay chosen when the form is saved): these
    # grow with what was chosen, not with the chain.
    wanted = [c for c in dict.fromkeys(chosen) if c]
    if wanted:
        rows = (await session.execute(base.where(one_of(Store.public_id, wanted)))).all()
        by_id = {r.public_id: StoreChoice(*r) for r in rows}
        picked = [by_id[c] for c in wanted if c in by_id]
    stmt = base
    needle = (q or "").strip()[:100]
    if needle:
        stmt = stmt.where(
            or_(
                Store.code.startswith(needle, autoescape=True),
                Store.name.contains(needle, autoescape=True),
            )
        )
    if picked:
        stmt = stmt.where(Store.id.not_in([c.id for c in picked]))
    rows = (await session.execute(stmt.order_by(Store.code).limit(limit))).all()
    return picked + [StoreChoice(*r) for r in rows]
