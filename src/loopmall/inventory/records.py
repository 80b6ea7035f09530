"""Reads of holds and of the ledger, with the SKU and location a person recognises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Product, Sku
from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.tenancy import Tenant
from loopmall.core.valueset import one_of
from loopmall.inventory.models import Hold, Location, StockLevel, StockMovement
from loopmall.inventory.repository import AnySelect, cut, keyset
from loopmall.inventory.rules import HoldStatus, could_be_id
from loopmall.merchants.models import Store
from loopmall.staff.models import Staff


def effective_status_filter(status: HoldStatus, now: datetime) -> ColumnElement[bool]:
    """Holds whose status *in effect* is ``status``: an expired active hold is lapsed."""
    if status is HoldStatus.ACTIVE:
        return and_(Hold.status == HoldStatus.ACTIVE.value, Hold.expires_at > now)
    if status is HoldStatus.LAPSED:
        return or_(
            Hold.status == HoldStatus.LAPSED.value,
            and_(Hold.status == HoldStatus.ACTIVE.value, Hold.expires_at <= now),
        )
    return Hold.status == status.value


def effective_status(hold: Hold, now: datetime) -> HoldStatus:
    status = HoldStatus(hold.status)
    if status is HoldStatus.ACTIVE and hold.expires_at <= now:
        return HoldStatus.LAPSED
    return status


@dataclass(frozen=True, slots=True)
class HoldRow:
    hold: Hold
    sku_id: int
    sku_public_id: str
    sku_code: str
    product_title: str
    location_id: int
    location_public_id: str
    location_name: str
    store_id: int | None

    @property
    def id(self) -> int:
        return self.hold.id


def _hold_rows_stmt(tenant: Tenant) -> AnySelect:
    return (
        select(
            Hold,
            StockLevel.sku_id,
            Sku.public_id,
            Sku.code,
            Product.title,
            StockLevel.location_id,
            Location.public_id,
            func.coalesce(Store.name, Location.name),
            Location.store_id,
        )
        .join(StockLevel, StockLevel.id == Hold.stock_level_id)
        .join(Sku, Sku.id == StockLevel.sku_id)
        .join(Product, Product.id == Sku.product_id)
        .join(Location, Location.id == StockLevel.location_id)
        .outerjoin(Store, Store.id == Location.store_id)
        .where(Hold.merchant_id == tenant.id, StockLevel.merchant_id == tenant.id)
    )


async def find_hold(session: AsyncSession, tenant: Tenant, public_id: str) -> HoldRow:
    """A hold of this merchant by public id; 404 for anyone else's or none."""
    if not could_be_id(public_id):
        raise NotFound("No such hold")
    row = (
        await session.execute(_hold_rows_stmt(tenant).where(Hold.public_id == public_id))
    ).first()
    if row is None:
        raise NotFound("No such hold")
    return HoldRow(*row)


async def list_holds(
    session: AsyncSession,
    tenant: Tenant,
    *,
    status: HoldStatus | None = None,
    sku_ids: list[int] | None = None,
    location_ids: frozenset[int] | None = None,
    reference: str | None = None,
    hold_ids: list[int] | None = None,
    cursor: str | None = None,
    limit: int = 50,
    newest_first: bool = False,
) -> tuple[list[HoldRow], str | None]:
    """Holds with their SKU and location, by cursor (oldest first unless asked)."""
    stmt = _hold_rows_stmt(tenant)
    if status is not None:
        stmt = stmt.where(effective_status_filter(status, clock.now()))
    if sku_ids is not None:
        stmt = stmt.where(StockLevel.sku_id.in_(sku_ids))
    if location_ids is not None:
        stmt = stmt.where(one_of(StockLevel.location_id, location_ids))
    if reference is not None:
        stmt = stmt.where(Hold.reference == reference)
    if hold_ids is not None:
        stmt = stmt.where(Hold.id.in_(hold_ids))
    if newest_first:
        stmt = stmt.order_by(Hold.id.desc()).limit(limit)
        return [HoldRow(*r) for r in (await session.execute(stmt)).all()], None
    stmt = keyset(stmt, Hold.id, cursor, limit)
    return cut([HoldRow(*r) for r in (await session.execute(stmt)).all()], limit)


@dataclass(frozen=True, slots=True)
class MovementRow:
    movement: StockMovement
    sku_public_id: str
    location_public_id: str
    hold_public_id: str | None

    @property
    def id(self) -> int:
        return self.movement.id


async def list_movements(
    session: AsyncSession,
    tenant: Tenant,
    *,
    sku_ids: list[int] | None = None,
    location_ids: frozenset[int] | None = None,
    kinds: list[str] | None = None,
    hold_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
    newest_first: bool = False,
) -> tuple[list[MovementRow], str | None]:
    """The ledger, oldest first by cursor (or the newest ``limit`` lines for a page)."""
    stmt = (
        select(StockMovement, Sku.public_id, Location.public_id, Hold.public_id)
        .join(Sku, Sku.id == StockMovement.sku_id)
        .join(Location, Location.id == StockMovement.location_id)
        .outerjoin(Hold, Hold.id == StockMovement.hold_id)
        .where(StockMovement.merchant_id == tenant.id)
    )
    if sku_ids is not None:
        stmt = stmt.where(StockMovement.sku_id.in_(sku_ids))
    if location_ids is not None:
        stmt = stmt.where(one_of(StockMovement.location_id, location_ids))
    if kinds:
        stmt = stmt.where(StockMovement.kind.in_(kinds))
    if hold_id is not None:
        stmt = stmt.where(StockMovement.hold_id == hold_id)
    if newest_first:
        stmt = stmt.order_by(StockMovement.id.desc()).limit(limit)
        return [MovementRow(*r) for r in (await session.execute(stmt)).all()], None
    stmt = keyset(stmt, StockMovement.id, cursor, limit)
    return cut([MovementRow(*r) for r in (await session.execute(stmt)).all()], limit)


async def actor_names(session: AsyncSession, tenant: Tenant, actors: set[str]) -> dict[str, str]:
    """Staff names for the actors of ledger lines (staff public ids), for pages."""
    if not actors:
        return {}
    rows = await session.execute(
        select(Staff.public_id, Staff.name).where(
            Staff.merchant_id == tenant.id, Staff.public_id.in_(actors)
        )
    )
    return {public_id: name for public_id, name in rows.all()}
