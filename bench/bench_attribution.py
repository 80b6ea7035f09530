"""Attribution of N orders against M touches (issue #4 item 9).

Small: 10,000 orders / 100,000 touches; full (``--full``): 100,000 / 1,000,000.

A synthetic merchant: 20 stores, 60 guides, N/5 customers, M touches spread over the 60 days
before the last order (scans with a store and guide, shares with a sharer and upstream
sharer, poster placements), a binding for one customer in four, and N paid mall orders over
the last 30 days. The touches are bulk-loaded (COPY on PostgreSQL, executemany on SQLite)
and that load is timed apart. Then every order is credited with ``credit_orders`` in
batches of ``BATCH`` (one transaction each, the touches of a batch in one query per chunk
of customers, the credits and their ``attribution.credited`` events written in bulk) —
seconds and orders/s. Last, the event handler's path: ``credit_order`` for single orders,
one transaction each (p50/p99 latency).
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, func, insert, select

from bench.harness import BenchContext, Progress, Row, median, percentile
from loopmall.attribution.ledger import credit_order, credit_orders
from loopmall.attribution.models import Binding, Credit, Touch
from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.models import OutboxEvent
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Consumer, Customer
from loopmall.merchants.models import Merchant, Store
from loopmall.orders.models import Order
from loopmall.staff.models import Staff

NAME = "attribution"
BATCH = 2_000
SINGLE = 300  # orders credited one by one (the event handler's path)
STORES = 20
GUIDES = 60
CHUNK = 20_000
SEED = 4


def table(model: Any) -> Table:
    """The model's table, for Core multi-row inserts (the ORM's bulk insert is far slower)."""
    found: Table = model.metadata.tables[model.__tablename__]
    return found


async def _merchant(state: AppState) -> tuple[Tenant, list[int], list[int]]:
    async with UnitOfWork(state.write_factory) as uow:
        s, now = uow.session, clock.now()
        merchant = Merchant(
            public_id=new_public_id("mch"), slug="bench", name="Bench", created_at=now
        )
        s.add(merchant)
        await s.flush()
        tenant = Tenant(merchant.id, merchant.slug)
        stores = list(
            await s.scalars(
                insert(table(Store)).returning(table(Store).c.id, sort_by_parameter_order=True),
                [
                    {
                        "merchant_id": tenant.id,
                        "public_id": new_public_id("st"),
                        "code": f"S{i:03}",
                        "name": f"门店 {i}",
                        "opening_hours": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(STORES)
                ],
            )
        )
        guides = list(
            await s.scalars(
                insert(table(Staff)).returning(table(Staff).c.id, sort_by_parameter_order=True),
                [
                    {
                        "merchant_id": tenant.id,
                        "public_id": new_public_id("stf"),
                        "phone": f"1380000{i:04}",
                        "name": f"导购 {i}",
                        "role": "guide",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(GUIDES)
                ],
            )
        )
        await uow.commit()
        return tenant, stores, guides


async def _customers(state: AppState, tenant: Tenant, count: int, progress: Progress) -> list[int]:
    ids: list[int] = []
    now = clock.now()
    for start in range(0, count, CHUNK):
        n = min(CHUNK, count - start)
        async with UnitOfWork(state.write_factory) as uow:
            consumers = list(
                await uow.session.scalars(
                    insert(table(Consumer)).returning(
                        table(Consumer).c.id, sort_by_parameter_order=True
                    ),
                    [
                        {"public_id": new_public_id("con"), "created_at": now, "updated_at": now}
                        for _ in range(n)
                    ],
                )
            )
            ids += list(
                await uow.session.scalars(
                    insert(table(Customer)).returning(
                        table(Customer).c.id, sort_by_parameter_order=True
                    ),
                    [
                        {
                            "merchant_id": tenant.id,
                            "public_id": new_public_id("cus"),
                            "consumer_id": c,
                            "first_seen_at": now,
                            "last_seen_at": now,
                        }
                        for c in consumers
                    ],
                )
            )
            await uow.commit()
        progress.update(len(ids))
    return ids


def _touch_rows(
    rnd: random.Random,
    tenant: Tenant,
    count: int,
    customers: list[int],
    stores: list[int],
    guides: list[int],
    progress: Progress,
) -> list[tuple[Any, ...]]:
    end = clock.now()
    rows = []
    for i in range(count):
        if i % CHUNK == 0:
            progress.update(i)
        customer = rnd.choice(customers)
        at = end - timedelta(seconds=rnd.randrange(60 * 86400))
        pick = rnd.random()
        store = guide = share = sharer = upstream = channel = None
        placement = ""
        if pick < 0.5:
            kind, store, channel = "scan", rnd.choice(stores), rnd.randrange(1, 400)
            if rnd.random() < 0.5:
                guide = rnd.choice(guides)
        elif pick < 0.8:
            kind, share = "share", rnd.randrange(1, 50_000)
            sharer = rnd.choice(customers)
            upstream = rnd.choice(customers) if rnd.random() < 0.4 else None
        elif pick < 0.9:
            kind, guide, store = "guide", rnd.choice(guides), rnd.choice(stores)
        else:
            kind, channel, placement = "scan", rnd.randrange(400, 500), f"海报 {rnd.randrange(100)}"
        rows.append(
            (
                tenant.id,
                kind,
                customer,
                None,
                at,
                channel,
                store,
                guide,
                share,
                sharer,
                upstream,
                placement,
            )
        )
    progress.update(count)
    return rows


TOUCH_COLUMNS = (
    "merchant_id",
    "kind",
    "customer_id",
    "visitor_id",
    "at",
    "channel_id",
    "store_id",
    "guide_staff_id",
    "share_id",
    "sharer_customer_id",
    "upstream_sharer_customer_id",
    "placement",
)


async def _load_touches(
    state: AppState, backend: str, rows: list[tuple[Any, ...]], progress: Progress
) -> None:
    """COPY on PostgreSQL (asyncpg's copy_records_to_table); executemany on SQLite. One
    progress line at most per chunk: this load is timed."""
    for start in range(0, len(rows), 100_000 if backend == "postgres" else CHUNK):
        part = rows[start : start + (100_000 if backend == "postgres" else CHUNK)]
        async with UnitOfWork(state.write_factory) as uow:
            if backend == "postgres":
                conn = await uow.session.connection()
                raw = await conn.get_raw_connection()
                await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                    "attribution_touches", records=part, columns=list(TOUCH_COLUMNS)
                )
            else:
                await uow.session.execute(
                    insert(table(Touch)),
                    [dict(zip(TOUCH_COLUMNS, r, strict=True)) for r in part],
                )
            await uow.commit()
        progress.update(start + len(part))


async def _orders_and_bindings(
    state: AppState,
    tenant: Tenant,
    rnd: random.Random,
    count: int,
    customers: list[int],
    stores: list[int],
    guides: list[int],
    progress: Progress,
) -> list[int]:
    end = clock.now()
    timed: list[tuple[Any, int]] = []
    for start in range(0, count, CHUNK):
        n = min(CHUNK, count - start)
        rows = []
        for i in range(start, start + n):
            total = rnd.randrange(1_000, 200_000)
            at = end - timedelta(seconds=rnd.randrange(30 * 86400))
            rows.append(
                {
                    "merchant_id": tenant.id,
                    "public_id": new_public_id("ord"),
                    "number": f"B{i:012}",
                    "kind": "mall",
                    "status": "paid",
                    "fulfilment": "delivery",
                    "payment_method": "online",
                    "customer_id": rnd.choice(customers),
                    "total_fen": total,
                    "paid_fen": total,
                    "created_at": at,
                    "updated_at": at,
                    "paid_at": at,
                }
            )
        async with UnitOfWork(state.write_factory) as uow:
            new = await uow.session.scalars(
                insert(table(Order)).returning(table(Order).c.id, sort_by_parameter_order=True),
                rows,
            )
            timed += [
                (row["created_at"], order_id) for order_id, row in zip(new, rows, strict=True)
            ]
            await uow.commit()
        progress.update(start + n)
    bound = customers[::4]
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(
            insert(table(Binding)),
            [
                {
                    "merchant_id": tenant.id,
                    "customer_id": c,
                    "store_id": rnd.choice(stores),
                    "guide_staff_id": rnd.choice(guides) if rnd.random() < 0.5 else None,
                    "source": "scan",
                    "bound_at": end - timedelta(days=90),
                    "last_contact_at": end - timedelta(days=40),
                    "history": [],
                }
                for c in bound
            ],
        )
        await uow.commit()
    # In time order, as a backfill would go: a batch then reads the touches of a few days
    # (and its window) rather than of the whole period.
    return [order_id for _, order_id in sorted(timed)]


async def _count(state: AppState, model: Any) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        return int(await uow.session.scalar(select(func.count(model.id))) or 0)


async def _one_backend(ctx: BenchContext, backend: str) -> list[Row]:
    n_orders = ctx.size(10_000, 100_000)
    n_touches = ctx.size(100_000, 1_000_000)
    params = {"orders": n_orders, "touches": n_touches, "batch": BATCH}
    rnd = random.Random(SEED)
    rows: list[Row] = []
    n_customers = max(1, n_orders // 5)
    async with ctx.fresh_state(backend) as state:
        tenant, stores, guides = await _merchant(state)
        customers = await _customers(
            state, tenant, n_customers, Progress(f"{backend}: customers", n_customers)
        )
        touches = _touch_rows(
            rnd,
            tenant,
            n_touches,
            customers,
            stores,
            guides,
            Progress(f"{backend}: touches built", n_touches, lines=5),
        )
        started = time.perf_counter()
        await _load_touches(
            state, backend, touches, Progress(f"{backend}: touches loaded", n_touches)
        )
        load = time.perf_counter() - started
        rows.append(Row(NAME, backend, "touches loaded", n_touches / load, "rows/s", params))
        order_ids = await _orders_and_bindings(
            state,
            tenant,
            rnd,
            n_orders,
            customers,
            stores,
            guides,
            Progress(f"{backend}: building orders", n_orders),
        )
        single, batch_ids = order_ids[:SINGLE], order_ids[SINGLE:]

        batches = -(-len(batch_ids) // BATCH)
        progress = Progress(f"{backend}: crediting batch", batches)
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(batch_ids), BATCH):
            async with UnitOfWork(state.write_factory) as uow:
                await credit_orders(uow.session, tenant, batch_ids[start : start + BATCH])
                await uow.commit()
            progress.update(start // BATCH + 1)  # one line per few batches, this loop is timed
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows.append(Row(NAME, backend, "batch attribution", seconds, "s", params))
        # This process's CPU time: on a shared machine the wall clock also counts waiting.
        rows.append(Row(NAME, backend, "batch attribution CPU", cpu, "s", params))
        rows.append(
            Row(NAME, backend, "batch attribution", len(batch_ids) / seconds, "orders/s", params)
        )

        latencies = []
        progress = Progress(f"{backend}: crediting one by one", len(single), lines=3)
        for order_id in single:
            t0 = time.perf_counter()
            async with UnitOfWork(state.write_factory) as uow:
                await credit_order(uow.session, tenant, order_id)
                await uow.commit()
            latencies.append((time.perf_counter() - t0) * 1000)
            progress.update(len(latencies))  # after the latency is taken
        one = {"orders": SINGLE, "touches": n_touches}
        rows.append(Row(NAME, backend, "credit_order p50", median(latencies), "ms", one))
        rows.append(Row(NAME, backend, "credit_order p99", percentile(latencies, 99), "ms", one))

        # Again: every order is credited already, nothing is written (idempotency).
        started = time.perf_counter()
        async with UnitOfWork(state.write_factory) as uow:
            assert await credit_orders(uow.session, tenant, order_ids[:BATCH]) == []
            await uow.commit()
        credits = await _count(state, Credit)
        events = await _count(state, OutboxEvent)
        rows.append(Row(NAME, backend, "credits written", credits, "rows", params))
        rows.append(Row(NAME, backend, "credits per order", credits / n_orders, "rows", params))
        assert events == n_orders - await _uncredited(state), "one event per credited order"
    return rows


async def _uncredited(state: AppState) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        credited = await uow.session.scalar(select(func.count(func.distinct(Credit.order_id))))
        total = await uow.session.scalar(select(func.count(Order.id)))
        return int(total or 0) - int(credited or 0)


async def run(ctx: BenchContext) -> list[Row]:
    rows: list[Row] = []
    for backend in ctx.backends:
        rows += await _one_backend(ctx, backend)
    return rows
