"""Holds placed and released per second with N concurrent clients, and the lapse sweep.

Each operation is one unit of work (its own transaction, committed), as checkout will
run it. Two shapes: every client on ONE hot SKU (all writers queue on one stock level row:
the flash-sale worst case), and clients spread over one SKU each. Then the sweep: how fast
expired holds are lapsed and their units returned.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from bench.harness import BenchContext, Row, median, percentile
from loopmall.catalog.models import Product, Sku
from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.inventory import locations, service
from loopmall.inventory.jobs import sweep
from loopmall.merchants.models import Merchant

NAME = "inventory"
CLIENTS = 32
TTL = timedelta(minutes=15)


async def _setup(state: AppState, skus: int, units: int) -> tuple[Tenant, list[int], int]:
    """A merchant with ``skus`` SKUs holding ``units`` each in its default warehouse."""
    async with UnitOfWork(state.write_factory) as uow:
        s, now = uow.session, clock.now()
        merchant = Merchant(
            public_id=new_public_id("mch"), slug="bench", name="Bench", created_at=now
        )
        s.add(merchant)
        await s.flush()
        tenant = Tenant(merchant.id, merchant.slug)
        product = Product(
            merchant_id=tenant.id,
            public_id=new_public_id("prd"),
            title="bench",
            status="active",
            tags=[],
            option_names=["n"],
            created_at=now,
            updated_at=now,
        )
        s.add(product)
        await s.flush()
        rows = [
            Sku(
                merchant_id=tenant.id,
                public_id=new_public_id("sku"),
                product_id=product.id,
                code=f"B{i}",
                options={"n": str(i)},
                options_key=f'["{i}"]',
                price=100,
                created_at=now,
                updated_at=now,
            )
            for i in range(skus)
        ]
        s.add_all(rows)
        await s.flush()
        location = await locations.default_warehouse(s, tenant)
        for sku in rows:
            await service.adjust_stock(
                s,
                tenant,
                sku_id=sku.id,
                location_id=location.id,
                delta=units,
                reason="bench",
                actor="system",
            )
        await uow.commit()
        return tenant, [r.id for r in rows], location.id


async def _hold_release(ctx: BenchContext, backend: str, shape: str, per_client: int) -> list[Row]:
    async with ctx.fresh_state(backend) as state:
        skus = 1 if shape == "hot" else CLIENTS
        tenant, sku_ids, location_id = await _setup(state, skus, 1_000_000)
        place: list[float] = []
        release: list[float] = []

        async def client(i: int) -> None:
            sku_id = sku_ids[i % len(sku_ids)]
            for _ in range(per_client):
                t0 = time.perf_counter()
                async with UnitOfWork(state.write_factory) as uow:
                    hold = await service.place_hold(
                        uow.session,
                        tenant,
                        sku_id=sku_id,
                        location_id=location_id,
                        quantity=1,
                        ttl=TTL,
                        reason="order",
                        reference="bench",
                        actor="system",
                    )
                    await uow.commit()
                t1 = time.perf_counter()
                async with UnitOfWork(state.write_factory) as uow:
                    await service.release_hold(uow.session, tenant, hold.id, actor="system")
                    await uow.commit()
                place.append(t1 - t0)
                release.append(time.perf_counter() - t1)

        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    pairs = CLIENTS * per_client
    params = {"clients": CLIENTS, "skus": skus, "pairs": pairs}
    out = [Row(NAME, backend, f"{shape}: holds placed+released/s", pairs / elapsed, "1/s", params)]
    for label, values in (("place", place), ("release", release)):
        out.append(Row(NAME, backend, f"{shape}: {label} p50", median(values) * 1000, "ms", params))
        out.append(
            Row(NAME, backend, f"{shape}: {label} p99", percentile(values, 99) * 1000, "ms", params)
        )
    return out


async def _sweep(ctx: BenchContext, backend: str, holds: int) -> list[Row]:
    """Place ``holds`` one-minute holds over 32 SKUs, move the clock past their expiry (so
    no placing write lapses them first), time the sweep."""
    frozen = clock.FrozenClock(clock.now())
    previous = clock.install(frozen)
    try:
        return await _timed_sweep(ctx, backend, holds, frozen)
    finally:
        clock.install(previous)


async def _timed_sweep(
    ctx: BenchContext, backend: str, holds: int, frozen: clock.FrozenClock
) -> list[Row]:
    async with ctx.fresh_state(backend) as state:
        tenant, sku_ids, location_id = await _setup(state, CLIENTS, 1_000_000)
        batch = 100
        for start in range(0, holds, batch):
            async with UnitOfWork(state.write_factory) as uow:
                lines = [
                    service.HoldLine(sku_ids[(start + k) % len(sku_ids)], location_id, 1)
                    for k in range(min(batch, holds - start))
                ]
                await service.place_holds(
                    uow.session,
                    tenant,
                    lines,
                    ttl=timedelta(minutes=1),
                    reason="order",
                    reference="bench",
                    actor="system",
                )
                await uow.commit()
        frozen.advance(minutes=1)
        started = time.perf_counter()
        lapsed = await sweep(state)
        elapsed = time.perf_counter() - started
    assert lapsed == holds, (lapsed, holds)
    return [Row(NAME, backend, "sweep: holds lapsed/s", holds / elapsed, "1/s", {"holds": holds})]


async def run(ctx: BenchContext) -> list[Row]:
    per_client = ctx.size(12, 300)
    rows: list[Row] = []
    for backend in ctx.backends:
        for shape in ("hot", "spread"):
            rows += await _hold_release(ctx, backend, shape, per_client)
        rows += await _sweep(ctx, backend, ctx.size(2_000, 50_000))
    return rows
