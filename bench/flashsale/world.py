"""A flash sale ready to open: a merchant, a phone SKU, N reservation holders, S units.

Built through the domains' services (merchant, product, stock, ``flashsale.service``), with
the holders (consumers, customers, reservations) bulk-loaded: COPY on PostgreSQL,
executemany on SQLite — 1.938 M holders take seconds, not hours. Used by the benchmark and
by the Redis/kill tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.schemas import ProductIn, SkuIn
from loopmall.catalog.service import create_product
from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Consumer, Customer
from loopmall.flashsale.models import FlashReservation
from loopmall.flashsale.service import SaleSetup, create_sale
from loopmall.inventory.locations import default_warehouse
from loopmall.inventory.service import adjust_stock
from loopmall.merchants.models import Merchant

CHUNK = 20_000


@dataclass(frozen=True)
class World:
    tenant: Tenant
    sale_id: int
    sale_public_id: str
    customer_ids: list[int]
    stock: int
    starts_at: datetime

    @property
    def buy_path(self) -> str:
        return f"/api/v1/mall/{self.tenant.slug}/flash/{self.sale_public_id}/buy"


async def _next_id(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(model.id), 0))) or 0) + 1


async def _copy(
    session: AsyncSession, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(table, records=rows, columns=list(columns))  # type: ignore[union-attr]


async def _bulk(
    session: AsyncSession, model: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    if session.bind.dialect.name == "postgresql":
        for i in range(0, len(rows), CHUNK * 10):
            await _copy(session, model.__tablename__, columns, rows[i : i + CHUNK * 10])
        return
    for i in range(0, len(rows), CHUNK):
        await session.execute(
            insert(model), [dict(zip(columns, r, strict=True)) for r in rows[i : i + CHUNK]]
        )


async def _holders(session: AsyncSession, tenant: Tenant, n: int) -> list[int]:
    """``n`` consumers, each a customer of the merchant; their customer ids."""
    now = clock.now()
    first_consumer = await _next_id(session, Consumer)
    first_customer = await _next_id(session, Customer)
    tag = new_public_id("b")[2:10]
    consumers = [
        (first_consumer + i, f"con_{tag}{i}", f"holder {i}", "", now, now) for i in range(n)
    ]
    await _bulk(
        session,
        Consumer,
        ("id", "public_id", "display_name", "avatar_url", "created_at", "updated_at"),
        consumers,
    )
    customers = [
        (
            first_customer + i,
            tenant.id,
            f"cus_{tag}{i}",
            first_consumer + i,
            f"holder {i}",
            "",
            False,
            now,
            now,
        )
        for i in range(n)
    ]
    await _bulk(
        session,
        Customer,
        (
            "id",
            "merchant_id",
            "public_id",
            "consumer_id",
            "display_name",
            "avatar_url",
            "followed",
            "first_seen_at",
            "last_seen_at",
        ),
        customers,
    )
    if session.bind.dialect.name == "postgresql":
        for table in ("consumers", "customers"):
            await session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    return [first_customer + i for i in range(n)]


async def build_world(
    state: AppState,
    *,
    holders: int,
    stock: int,
    slug: str = "mi",
    starts_in: timedelta = timedelta(0),
    pay_within_seconds: int = 15 * 60,
    duration: timedelta = timedelta(hours=2),
) -> World:
    """A live (or, with ``starts_in``, upcoming) sale of ``stock`` units with ``holders``
    reservations. On the Redis gate when the app's settings name Redis."""
    now = clock.now()
    async with UnitOfWork(state.write_factory) as uow:
        s = uow.session
        merchant = Merchant(
            public_id=new_public_id("mch"), slug=slug, name="小米", status="active", created_at=now
        )
        s.add(merchant)
        await s.flush()
        tenant = Tenant(merchant.id, merchant.slug)
        product = await create_product(
            s, tenant, ProductIn(title="小米手机", status="active", skus=[SkuIn(price=199_900)])
        )
        sku = product.skus[0].sku
        warehouse = await default_warehouse(s, tenant)
        await adjust_stock(
            s,
            tenant,
            sku_id=sku.id,
            location_id=warehouse.id,
            delta=stock,
            reason="bench",
            actor="bench",
        )
        starts_at = now + starts_in
        sale = await create_sale(
            s,
            tenant,
            SaleSetup(
                sku_public_id=sku.public_id,
                title="小米手机 微信专享价",
                price_fen=179_900,
                stock=stock,
                reserve_from=now - timedelta(days=6),
                reserve_until=starts_at,
                starts_at=starts_at,
                ends_at=starts_at + duration,
                pay_within_seconds=pay_within_seconds,
            ),
        )
        customer_ids = await _holders(s, tenant, holders)
        await _bulk(
            s,
            FlashReservation,
            ("merchant_id", "sale_id", "customer_id", "at"),
            [(tenant.id, sale.id, c, now) for c in customer_ids],
        )
        sale.reservations = len(customer_ids)  # the bulk load bypasses flashsale.service
        await uow.commit()
    return World(tenant, sale.id, sale.public_id, customer_ids, stock, starts_at)
