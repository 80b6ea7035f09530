"""Setting up a flash sale and reserving it.

Every function takes the session and the tenant, flushes and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Product, Sku
from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.state import settings_of
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.text import check_text
from loopmall.flashsale.events import FlashSaleScheduled
from loopmall.flashsale.models import FlashBucket, FlashReservation, FlashSale
from loopmall.flashsale.repository import insert_ignoring
from loopmall.flashsale.rules import (
    MAX_BUCKETS,
    MAX_PER_PERSON,
    MAX_STOCK,
    Phase,
    SaleInvalid,
    SaleNotReserving,
    phase_at,
)
from loopmall.inventory.locations import create_warehouse, default_warehouse
from loopmall.inventory.service import adjust_stock

MIN_PAY_WITHIN = 60
MAX_PAY_WITHIN = 24 * 3600


@dataclass(frozen=True, slots=True)
class SaleSetup:
    sku_public_id: str
    title: str
    price_fen: int
    stock: int
    reserve_from: datetime
    reserve_until: datetime
    starts_at: datetime
    ends_at: datetime
    per_person_limit: int = 1
    pay_within_seconds: int | None = None  # the setting's default when None


def phase(sale: FlashSale, now: datetime | None = None) -> Phase:
    return phase_at(
        now or clock.now(),
        status=sale.status,
        reserve_from=sale.reserve_from,
        reserve_until=sale.reserve_until,
        starts_at=sale.starts_at,
        ends_at=sale.ends_at,
    )


def reserving(sale: FlashSale, now: datetime | None = None) -> bool:
    now = now or clock.now()
    return sale.status == "active" and sale.reserve_from <= now < min(
        sale.reserve_until, sale.ends_at
    )


def _check(setup: SaleSetup, pay_within: int) -> None:
    def bad(field: str, detail: str) -> SaleInvalid:
        return SaleInvalid(detail, field=field)

    for field in ("price_fen", "stock", "per_person_limit"):
        value = getattr(setup, field)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad(field, f"{field} must be a whole number")
    if not 1 <= setup.price_fen <= 100_000_000:
        raise bad("price_fen", "The price must be from 0.01 to 1,000,000 yuan")
    if not 1 <= setup.stock <= MAX_STOCK:
        raise bad("stock", f"The stock must be from 1 to {MAX_STOCK}")
    if not 1 <= setup.per_person_limit <= MAX_PER_PERSON:
        raise bad("per_person_limit", f"The limit per person must be from 1 to {MAX_PER_PERSON}")
    if not MIN_PAY_WITHIN <= pay_within <= MAX_PAY_WITHIN:
        raise bad("pay_within_seconds", "Pay within must be from 1 minute to 24 hours")
    if not setup.reserve_from < setup.reserve_until:
        raise bad("reserve_until", "Reservations must close after they open")
    if not setup.reserve_from <= setup.starts_at < setup.ends_at:
        raise bad("starts_at", "The sale starts after reservations open and ends after it starts")
    title = check_text(setup.title.strip(), field="title")
    if not title or len(title) > 120:
        raise bad("title", "The title must be 1 to 120 characters")


async def create_sale(session: AsyncSession, tenant: Tenant, setup: SaleSetup) -> FlashSale:
    """A sale of one SKU: its ``stock`` moves out of the online stock (the default
    warehouse) into a location of the sale's own, spread over ``flashsale_buckets``
    bucket rows. Raises 422 ``flash_sale_invalid`` (with ``field``), NotFound for an
    unknown SKU, 409 ``insufficient_stock`` when the online stock has fewer free units."""
    settings = settings_of(session)
    pay_within = setup.pay_within_seconds or settings.flashsale_pay_within_seconds
    _check(setup, pay_within)
    row = (
        await session.execute(
            select(Sku, Product.title)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.merchant_id == tenant.id, Sku.public_id == setup.sku_public_id)
        )
    ).first()
    if row is None:
        raise NotFound("No such SKU", sku=setup.sku_public_id)
    sku: Sku = row[0]
    public_id = new_public_id("fs")
    online = await default_warehouse(session, tenant)
    await adjust_stock(
        session,
        tenant,
        sku_id=sku.id,
        location_id=online.id,
        delta=-setup.stock,
        reason=f"flash sale {public_id}",
        actor="system",
    )
    own = await create_warehouse(
        session, tenant, code=f"flash-{public_id}", name=f"秒杀 {setup.title.strip()}"[:100]
    )
    await adjust_stock(
        session,
        tenant,
        sku_id=sku.id,
        location_id=own.id,
        delta=setup.stock,
        reason=f"flash sale {public_id}",
        actor="system",
        kind="receive",
    )
    buckets = max(1, min(settings.flashsale_buckets, MAX_BUCKETS, setup.stock))
    sale = FlashSale(
        merchant_id=tenant.id,
        public_id=public_id,
        title=setup.title.strip(),
        sku_id=sku.id,
        location_id=own.id,
        price_fen=setup.price_fen,
        list_fen=sku.price,
        stock=setup.stock,
        per_person_limit=setup.per_person_limit,
        pay_within_seconds=pay_within,
        buckets=buckets,
        gate="redis" if settings.redis_url else "db",
        status="active",
        reserve_from=setup.reserve_from,
        reserve_until=setup.reserve_until,
        starts_at=setup.starts_at,
        ends_at=setup.ends_at,
        created_at=clock.now(),
    )
    session.add(sale)
    await session.flush()
    share, extra = divmod(setup.stock, buckets)
    session.add_all(
        FlashBucket(
            merchant_id=tenant.id, sale_id=sale.id, idx=i, remaining=share + (1 if i < extra else 0)
        )
        for i in range(buckets)
    )
    await session.flush()
    await publish(
        session,
        FlashSaleScheduled(
            merchant_id=tenant.id,
            sale_id=sale.id,
            sale_public_id=sale.public_id,
            title=sale.title,
            sku_id=sku.id,
            sku_public_id=sku.public_id,
            price_fen=sale.price_fen,
            list_fen=sale.list_fen,
            stock=sale.stock,
            per_person_limit=sale.per_person_limit,
            reserve_from=sale.reserve_from,
            reserve_until=sale.reserve_until,
            starts_at=sale.starts_at,
            ends_at=sale.ends_at,
        ),
    )
    return sale


async def list_sales(session: AsyncSession, tenant: Tenant, *, limit: int = 50) -> list[FlashSale]:
    stmt = scoped(FlashSale, tenant).order_by(FlashSale.starts_at.desc(), FlashSale.id.desc())
    return list((await session.scalars(stmt.limit(limit))).all())


async def reserve(session: AsyncSession, tenant: Tenant, sale: FlashSale, customer_id: int) -> bool:
    """Reserve the sale for the customer (once: again is a no-op). Whether this call made
    the reservation. Raises 409 ``flash_not_reserving`` outside the window."""
    if not reserving(sale):
        raise SaleNotReserving(phase=phase(sale).value)
    stmt = insert_ignoring(session, FlashReservation).values(
        merchant_id=tenant.id, sale_id=sale.id, customer_id=customer_id, at=clock.now()
    )
    made = bool(getattr(await session.execute(stmt), "rowcount", 0))
    if made:
        await _count_reservations(session, sale.id, 1)
    return made


async def reserve_many(
    session: AsyncSession, tenant: Tenant, sale_id: int, customer_ids: Sequence[int]
) -> None:
    """Reservations for many customers at once (imports, the benchmark's 1.938 M), in one
    executemany; existing ones stay. No window check: the merchant loads them."""
    if not customer_ids:
        return
    at = clock.now()
    # RETURNING names the rows this call inserted (existing ones are skipped by the
    # conflict clause): executemany's rowcount is not reliable on every driver.
    made = await session.execute(
        insert_ignoring(session, FlashReservation).returning(FlashReservation.customer_id),
        [
            {"merchant_id": tenant.id, "sale_id": sale_id, "customer_id": c, "at": at}
            for c in customer_ids
        ],
    )
    await _count_reservations(session, sale_id, len(made.all()))


async def _count_reservations(session: AsyncSession, sale_id: int, n: int) -> None:
    """Add the reservations just inserted to the sale's count, in their transaction: a
    rollback undoes both. (The in-memory ``FlashSale`` is not refreshed.)"""
    if n:
        await session.execute(
            update(FlashSale)
            .where(FlashSale.id == sale_id)
            .values(reservations=FlashSale.reservations + n)
            .execution_options(synchronize_session=False)
        )
