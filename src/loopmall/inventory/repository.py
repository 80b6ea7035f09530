"""Inventory reads, and the one statement shape the writes share (insert-or-ignore).

Every read of ``held``/``available`` goes through :func:`effective_held`: the stored
``held`` minus what holds that have already expired (but were not yet swept) still count,
computed in the same SELECT so PostgreSQL answers from one snapshot. That is how a read
never shows the "phantom zero" of S0 between a hold's expiry and the sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, TypedDict

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Product, Sku
from loopmall.core import clock
from loopmall.core.errors import NotFound, OutOfRange, ValidationFailed
from loopmall.core.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from loopmall.core.tenancy import Tenant
from loopmall.core.valueset import one_of
from loopmall.inventory.models import Hold, Location, StockLevel, StockMovement
from loopmall.inventory.rules import HoldStatus, could_be_id
from loopmall.merchants.models import Store

# A SELECT of any columns (SQLAlchemy 2.1 types a Select by its column types).
AnySelect = Select[*tuple[Any, ...]]


async def insert_ignore(session: AsyncSession, model: Any, values: dict[str, Any]) -> int:
    """INSERT … ON CONFLICT DO NOTHING; returns 1 if the row was inserted, else 0.

    On PostgreSQL a conflicting row that another transaction has not committed yet makes
    this wait for that transaction, so a SELECT afterwards always finds the winner.
    """
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    result = await session.execute(insert(model).values(**values).on_conflict_do_nothing())
    return int(getattr(result, "rowcount", 0) or 0)


async def sku_id_for(session: AsyncSession, tenant: Tenant, public_id: str) -> int:
    """The internal id of this merchant's SKU ``public_id``; 404 for anyone else's."""
    if not could_be_id(public_id):
        raise NotFound("No such SKU")
    sku_id = await session.scalar(
        select(Sku.id).where(Sku.merchant_id == tenant.id, Sku.public_id == public_id)
    )
    if sku_id is None:
        raise NotFound("No such SKU")
    return int(sku_id)


def expired_held(now: datetime) -> ColumnElement[int]:
    """Units of a level's holds still recorded active whose time is up (correlated)."""
    return (
        select(func.coalesce(func.sum(Hold.quantity), 0))
        .where(
            Hold.stock_level_id == StockLevel.id,
            Hold.merchant_id == StockLevel.merchant_id,
            Hold.status == HoldStatus.ACTIVE.value,
            Hold.expires_at <= now,
        )
        .correlate(StockLevel)
        .scalar_subquery()
    )


@dataclass(frozen=True, slots=True)
class StockView:
    """A level as it stands now: ``held`` counts only holds that have not expired."""

    sku_id: int
    location_id: int
    on_hand: int
    held: int

    @property
    def available(self) -> int:
        return self.on_hand - self.held


async def _views(session: AsyncSession, tenant: Tenant, *criteria: Any) -> list[StockView]:
    stmt = (
        select(
            StockLevel.sku_id,
            StockLevel.location_id,
            StockLevel.on_hand,
            StockLevel.held - expired_held(clock.now()),
        )
        .where(StockLevel.merchant_id == tenant.id, *criteria)
        .order_by(StockLevel.id)
    )
    return [StockView(*row) for row in (await session.execute(stmt)).all()]


async def availability(
    session: AsyncSession, tenant: Tenant, *, sku_id: int, location_id: int
) -> StockView:
    """The SKU's stock at one location now (zeros when it never had any)."""
    views = await _views(
        session, tenant, StockLevel.sku_id == sku_id, StockLevel.location_id == location_id
    )
    return views[0] if views else StockView(sku_id, location_id, 0, 0)


async def stock_for_sku(
    session: AsyncSession,
    tenant: Tenant,
    sku_id: int,
    *,
    location_ids: frozenset[int] | None = None,
) -> list[StockView]:
    """The SKU at every location that has a level for it (optionally only ``location_ids``)."""
    criteria: list[Any] = [StockLevel.sku_id == sku_id]
    if location_ids is not None:
        criteria.append(one_of(StockLevel.location_id, location_ids))
    return await _views(session, tenant, *criteria)


@dataclass(frozen=True, slots=True)
class SellableStock:
    """What a shop window shows of one SKU now: free units online and in stores."""

    online: int  # at the default warehouse (the online stock)
    in_stores: int  # summed over the store locations
    stores: dict[int, int]  # store id → free units there


async def sellable_stock(
    session: AsyncSession, tenant: Tenant, sku_ids: list[int]
) -> dict[int, SellableStock]:
    """Free units of each SKU online and per store, in one query (zeros when none)."""
    if not sku_ids:
        return {}
    stmt = (
        select(
            StockLevel.sku_id,
            Location.is_default,
            Location.store_id,
            StockLevel.on_hand - (StockLevel.held - expired_held(clock.now())),
        )
        .join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.merchant_id == tenant.id, StockLevel.sku_id.in_(sku_ids))
    )
    online: dict[int, int] = {}
    stores: dict[int, dict[int, int]] = {}
    for sku_id, is_default, store_id, free in (await session.execute(stmt)).all():
        free = max(int(free), 0)
        if is_default:
            online[sku_id] = online.get(sku_id, 0) + free
        elif store_id is not None:
            stores.setdefault(sku_id, {})[store_id] = free
    return {
        sku_id: SellableStock(
            online.get(sku_id, 0), sum(stores.get(sku_id, {}).values()), stores.get(sku_id, {})
        )
        for sku_id in sku_ids
    }


class ShelfStock(TypedDict):
    """Free units of one SKU online and summed over its stores: plain JSON."""

    sku_id: int
    online: int
    in_stores: int


async def shelf_stock(
    session: AsyncSession, tenant: Tenant, sku_ids: Sequence[int]
) -> list[ShelfStock]:
    """What a product page shows of each SKU's stock (``sellable_stock``'s online and
    in-stores figures, without the per-store breakdown), in ``sku_ids``' order, zeros when
    none. One statement, one row a SKU summed by the database: ``sellable_stock`` returns a
    row per store level, 1,800 a SKU for a chain (issue #13)."""
    if not sku_ids:
        return []
    free = StockLevel.on_hand - (StockLevel.held - expired_held(clock.now()))
    levels = (
        select(
            StockLevel.sku_id.label("sku_id"),
            Location.is_default.label("is_default"),
            Location.store_id.label("store_id"),
            free.label("free"),
        )
        .join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.merchant_id == tenant.id, one_of(StockLevel.sku_id, sku_ids))
        .subquery()
    )
    positive = case((levels.c.free > 0, levels.c.free), else_=0)  # a level never owes
    in_store = and_(levels.c.is_default.is_not(true()), levels.c.store_id.is_not(None))
    stmt = select(
        levels.c.sku_id,
        func.sum(case((levels.c.is_default.is_(true()), positive), else_=0)),
        func.sum(case((in_store, positive), else_=0)),
    ).group_by(levels.c.sku_id)
    found = {
        int(sku_id): (int(online or 0), int(stores or 0))
        for sku_id, online, stores in (await session.execute(stmt)).all()
    }
    return [
        ShelfStock(
            sku_id=sku_id,
            online=found.get(sku_id, (0, 0))[0],
            in_stores=found.get(sku_id, (0, 0))[1],
        )
        for sku_id in sku_ids
    ]


async def free_at_store(
    session: AsyncSession, tenant: Tenant, sku_ids: list[int], store_id: int
) -> dict[int, int]:
    """Free units of each SKU at one store (zeros when none): the store's location's levels
    only, through ``ix_stock_levels_location``. ``sellable_stock`` reads every store's level
    of each SKU: 1,800 rows a SKU for a chain, when a guide's card shows one store's figure."""
    if not sku_ids:
        return {}
    stmt = (
        select(
            StockLevel.sku_id, StockLevel.on_hand - (StockLevel.held - expired_held(clock.now()))
        )
        .join(Location, Location.id == StockLevel.location_id)
        .where(
            Location.merchant_id == tenant.id,
            Location.store_id == store_id,
            StockLevel.merchant_id == tenant.id,
            one_of(StockLevel.sku_id, sku_ids),
        )
    )
    free = {sku_id: max(int(n), 0) for sku_id, n in (await session.execute(stmt)).all()}
    return {sku_id: free.get(sku_id, 0) for sku_id in sku_ids}


async def stock_by_location(
    session: AsyncSession, tenant: Tenant, location_id: int
) -> list[StockView]:
    """Every SKU level at one location."""
    return await _views(session, tenant, StockLevel.location_id == location_id)


def keyset(
    stmt: AnySelect, id_column: Any, cursor: str | None, limit: int, *, descending: bool = False
) -> AnySelect:
    if limit < 1 or limit > MAX_LIMIT:
        raise OutOfRange(
            f"limit must be between 1 and {MAX_LIMIT}", field="limit", low=1, high=MAX_LIMIT
        )
    if cursor:
        after = decode_cursor(cursor)
        if not isinstance(after, int) or isinstance(after, bool):
            raise ValidationFailed("The cursor is not valid", field="cursor")
        stmt = stmt.where(id_column < after if descending else id_column > after)
    order = id_column.desc() if descending else id_column
    return stmt.order_by(order).limit(limit + 1)


def cut(rows: list[Any], limit: int) -> tuple[list[Any], str | None]:
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1].id)
    return rows, None


@dataclass(frozen=True, slots=True)
class LevelRow:
    """A level with what a person needs to recognise it (for lists and pages)."""

    id: int
    sku_id: int
    sku_public_id: str
    sku_code: str
    sku_options: dict[str, Any]
    product_title: str
    location_id: int
    location_public_id: str
    location_name: str
    location_is_default: bool
    store_public_id: str | None
    on_hand: int
    held: int

    @property
    def available(self) -> int:
        return self.on_hand - self.held


def _level_rows_stmt(tenant: Tenant) -> AnySelect:
    return (
        select(
            StockLevel.id,
            StockLevel.sku_id,
            Sku.public_id,
            Sku.code,
            Sku.options,
            Product.title,
            StockLevel.location_id,
            Location.public_id,
            func.coalesce(Store.name, Location.name),
            Location.is_default,
            Store.public_id,
            StockLevel.on_hand,
            StockLevel.held - expired_held(clock.now()),
        )
        .join(Sku, and_(Sku.id == StockLevel.sku_id, Sku.merchant_id == tenant.id))
        .join(Product, and_(Product.id == Sku.product_id, Product.merchant_id == tenant.id))
        .join(
            Location,
            and_(Location.id == StockLevel.location_id, Location.merchant_id == tenant.id),
        )
        .outerjoin(Store, and_(Store.id == Location.store_id, Store.merchant_id == tenant.id))
        .where(StockLevel.merchant_id == tenant.id)
    )


async def list_levels(
    session: AsyncSession,
    tenant: Tenant,
    *,
    sku_ids: list[int] | None = None,
    location_ids: frozenset[int] | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[LevelRow], str | None]:
    """Levels in id order, by cursor; ``location_ids`` limits to those locations."""
    stmt = _level_rows_stmt(tenant)
    if sku_ids is not None:
        stmt = stmt.where(StockLevel.sku_id.in_(sku_ids))
    if location_ids is not None:
        stmt = stmt.where(one_of(StockLevel.location_id, location_ids))
    stmt = keyset(stmt, StockLevel.id, cursor, limit)
    rows = [LevelRow(*r) for r in (await session.execute(stmt)).all()]
    return cut(rows, limit)


@lru_cache(maxsize=64)
def _first_level_ids(skus: int, per_sku: int) -> CompoundSelect:
    """The ids of the first ``per_sku + 1`` levels by location of each of ``skus`` SKUs
    (bound as ``merchant_id``, ``sku_0``…): one lookup per SKU through
    ``uq_stock_levels_sku_id_location_id``. Built once per count: building the 20 lookups
    cost the stock page ~5 ms of CPU a view (bench chainscale, issue #11)."""
    picks = []
    for i in range(skus):
        pick = select(StockLevel.id).where(
            StockLevel.merchant_id == bindparam("merchant_id"),
            StockLevel.sku_id == bindparam(f"sku_{i}"),
        )
        # Wrapped: SQLite takes no ORDER BY/LIMIT on a part of a compound SELECT.
        first = pick.order_by(StockLevel.location_id).limit(per_sku + 1).subquery()
        picks.append(select(first.c.id))
    return union_all(*picks)


async def first_levels_per_sku(
    session: AsyncSession,
    tenant: Tenant,
    sku_ids: list[int],
    *,
    location_ids: frozenset[int] | None = None,
    per_sku: int = 8,
) -> tuple[list[LevelRow], bool]:
    """Each SKU's first ``per_sku`` levels by location (of ``location_ids``, or all), and
    whether any SKU has more. A bounded lookup per SKU (one statement) through
    ``uq_stock_levels_sku_id_location_id``: a SKU is stocked at every store of a chain, and
    reading all of its levels to show a few made the stock page ∝ the stores (issue #11)."""
    if not sku_ids:
        return [], False
    wanted = list(dict.fromkeys(sku_ids))
    # The ids first, then their rows by primary key: with the lookups inside one statement
    # PostgreSQL hashed them against every level of the merchant.
    if location_ids is None:
        params = {"merchant_id": tenant.id} | {f"sku_{i}": s for i, s in enumerate(wanted)}
        found = await session.scalars(_first_level_ids(len(wanted), per_sku), params)
    else:
        picks = []
        for sku_id in wanted:
            pick = select(StockLevel.id).where(
                StockLevel.merchant_id == tenant.id,
                StockLevel.sku_id == sku_id,
                one_of(StockLevel.location_id, location_ids),
            )
            first = pick.order_by(StockLevel.location_id).limit(per_sku + 1).subquery()
            picks.append(select(first.c.id))
        found = await session.scalars(union_all(*picks))
    level_ids = list(found.all())
    if not level_ids:
        return [], False
    stmt = (
        _level_rows_stmt(tenant)
        .where(one_of(StockLevel.id, level_ids))
        .order_by(StockLevel.sku_id, StockLevel.location_id)
    )
    rows = [LevelRow(*r) for r in (await session.execute(stmt)).all()]
    kept: list[LevelRow] = []
    seen: dict[int, int] = {}
    for row in rows:
        seen[row.sku_id] = seen.get(row.sku_id, 0) + 1
        if seen[row.sku_id] <= per_sku:
            kept.append(row)
    return kept, any(n > per_sku for n in seen.values())


async def ledger_totals(session: AsyncSession, tenant: Tenant, level_id: int) -> tuple[int, int]:
    """(Σ delta_on_hand, Σ delta_held) of a level's ledger; they equal its stored counts."""
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(StockMovement.delta_on_hand), 0),
                func.coalesce(func.sum(StockMovement.delta_held), 0),
            ).where(
                StockMovement.merchant_id == tenant.id,
                StockMovement.stock_level_id == level_id,
            )
        )
    ).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True, slots=True)
class SkuRow:
    id: int
    public_id: str
    code: str
    options: dict[str, Any]
    product_title: str


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_skus(
    session: AsyncSession,
    tenant: Tenant,
    *,
    search: str | None = None,
    sku_ids: list[int] | None = None,
    cursor: str | None = None,
    limit: int = 30,
    newest_first: bool = False,
) -> tuple[list[SkuRow], str | None]:
    """The merchant's SKUs with their product titles, by cursor (oldest or newest first);
    ``search`` matches the title, the SKU code or the barcode (for the stock page)."""
    stmt = (
        select(Sku.id, Sku.public_id, Sku.code, Sku.options, Product.title)
        .join(Product, and_(Product.id == Sku.product_id, Product.merchant_id == tenant.id))
        .where(Sku.merchant_id == tenant.id)
    )
    if search:
        pattern = _like(search)
        stmt = stmt.where(
            or_(
                Product.title.ilike(pattern, escape="\\"),
                Sku.code.ilike(pattern, escape="\\"),
                Sku.barcode.ilike(pattern, escape="\\"),
            )
        )
    if sku_ids is not None:
        stmt = stmt.where(Sku.id.in_(sku_ids))
    rows = (
        await session.execute(keyset(stmt, Sku.id, cursor, limit, descending=newest_first))
    ).all()
    return cut([SkuRow(*r) for r in rows], limit)
