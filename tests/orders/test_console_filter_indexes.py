"""/console/orders' search by phone and its date filter read through indexes (migration
0024): without them a phone search read every order of the merchant (PostgreSQL, bench
chainscale 1/10: a sequential scan of 100 k orders, 32 ms -> 0.15 ms) and a day long ago
walked the primary key backwards through every newer order (11 k rows -> that day's 273)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import inspect, text

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.orders import queries
from tests.chain_rows import numbers
from tests.factories import owner_headers
from tests.reads import reading


async def _orders(state: AppState, backend: str, tenant: Tenant, n: int) -> None:
    """``n`` orders of ``tenant``, a phone for every three and a day for every 300, in one
    INSERT … SELECT; then ANALYZE (PostgreSQL plans by the statistics)."""
    async with UnitOfWork(state.write_factory) as uow:
        day = "x / 300"
        created = (
            f"timestamptz '2025-01-01' + ({day}) * interval '1 day'"
            if backend == "postgres"
            else f"strftime('%Y-%m-%d %H:%M:%f', '2025-01-01', '+' || ({day}) || ' days')"
        )
        await uow.session.execute(
            text(
                "INSERT INTO orders (merchant_id, public_id, number, kind, status, fulfilment, "
                "payment_method, items_fen, shipping_fen, total_fen, paid_fen, refunded_fen, "
                "recipient_name, recipient_phone, address, note, description, carrier, "
                "tracking_no, cancel_reason, created_at, updated_at) "
                "SELECT :m, 'ord_idx' || x, 'N' || x, 'mall', 'completed', 'delivery', "
                "'online', 100, 0, 100, 100, 0, '', '139' || (x / 3), '', '', '', '', '', '', "
                f"{created}, {created} " + numbers(backend, ":n")
            ).bindparams(m=tenant.id, n=n)
        )
        await uow.commit()
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(text("ANALYZE orders" if backend == "postgres" else "ANALYZE"))
        await uow.commit()


async def _plan_of_list_orders(
    state: AppState, tenant: Tenant, filters: queries.OrderFilters
) -> str:
    """How the planner reads the statement ``list_orders`` sends for ``filters``."""
    async with UnitOfWork(state.read_factory) as uow:
        s = uow.session
        with reading(state) as seen:
            await queries.list_orders(s, tenant, filters, limit=30)
        compiled, params = seen.statements[-1], seen.parameters[-1]
        conn = await s.connection()
        if state.is_sqlite:
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)
            return " ".join(str(r[-1]) for r in rows)
        rows = await conn.exec_driver_sql(f"EXPLAIN {compiled}", params)
        return " ".join(str(r[0]) for r in rows)


async def test_the_migrated_orders_table_has_the_console_filter_indexes(state: AppState) -> None:
    async with UnitOfWork(state.read_factory) as uow:
        conn = await uow.session.connection()
        indexes = await conn.run_sync(lambda sync: inspect(sync).get_indexes("orders"))
    found = {i["name"]: i["column_names"] for i in indexes}
    assert found.get("ix_orders_phone") == ["merchant_id", "recipient_phone", "id"]
    assert found.get("ix_orders_created") == ["merchant_id", "created_at", "id"]


async def test_a_search_by_phone_reads_through_the_phone_index(
    state: AppState, client: httpx.AsyncClient, backend: str
) -> None:
    tenant, _headers = await owner_headers(state, client)
    await _orders(state, backend, tenant, 30_000)
    plan = await _plan_of_list_orders(state, tenant, queries.OrderFilters(q="139500"))
    assert "ix_orders_phone" in plan, plan


async def test_a_date_range_reads_through_the_created_index(
    state: AppState, client: httpx.AsyncClient, backend: str
) -> None:
    tenant, _headers = await owner_headers(state, client)
    await _orders(state, backend, tenant, 30_000)
    day = datetime(2025, 1, 10, tzinfo=UTC)
    plan = await _plan_of_list_orders(
        state, tenant, queries.OrderFilters(created_from=day, created_to=day.replace(day=2))
    )
    assert "ix_orders_created" in plan, plan
