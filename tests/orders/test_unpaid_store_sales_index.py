"""The unpaid store sales list (``store_sale.unpaid_store_sales``) is read through
``ix_orders_kind_status`` (migration 0021): without it PostgreSQL walked the primary key
backwards through every order of the merchant — 334 ms at a chain's 1 M orders
(bench chainscale) — to find the few store sales still open."""

from __future__ import annotations

from sqlalchemy import inspect, text

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork

STATEMENT = (
    "SELECT id FROM orders WHERE merchant_id = 1 AND kind = 'store_sale' "
    "AND status = 'created' ORDER BY id DESC LIMIT 50"
)


async def test_the_migrated_orders_table_has_the_kind_status_index(state: AppState) -> None:
    # Given the database the migrations built
    async with UnitOfWork(state.read_factory) as uow:
        conn = await uow.session.connection()
        # When its indexes on orders are read
        indexes = await conn.run_sync(lambda sync: inspect(sync).get_indexes("orders"))

    # Then one leads with the merchant, the kind and the status, then the id
    found = {i["name"]: i["column_names"] for i in indexes}
    assert found.get("ix_orders_kind_status") == ["merchant_id", "kind", "status", "id"]


async def test_the_planner_takes_it_for_the_unpaid_store_sales(state: AppState) -> None:
    # Given the migrated database
    async with UnitOfWork(state.read_factory) as uow:
        s = uow.session
        # When the planner is asked how it reads a merchant's open store sales
        if state.is_sqlite:
            plan = " ".join(
                str(r[-1]) for r in await s.execute(text(f"EXPLAIN QUERY PLAN {STATEMENT}"))
            )
        else:
            # On a test table of a few rows (what earlier tests of this process left in its
            # statistics) a sort of the merchant's orders by another index costs next to
            # nothing and was chosen now and then; at a chain's size it never is. Sorting
            # off leaves the two plans this test is about: the index, or the walk backwards
            # over every order.
            await s.execute(text("SET LOCAL enable_sort = off"))
            plan = " ".join(str(r[0]) for r in await s.execute(text(f"EXPLAIN {STATEMENT}")))

    # Then through the index, not a walk over every order
    assert "ix_orders_kind_status" in plan, plan
