"""The console's store and guide pickers (``attribution.pages._choices``,
``o2o.console_pages._choices``) list a merchant's first stores and guides by name through
ix_stores_merchant_name and ix_staff_merchant_name (migration 0027): without them the planner
read and sorted every store and staff member of the merchant (20,000 guides for a national
chain, bench chainscale) to show the first 200."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect

from loopmall.attribution import pages as attribution_pages
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.o2o import console_pages as o2o_pages
from tests.reads import reading


async def test_the_migrated_tables_have_the_name_indexes(state: AppState) -> None:
    # Given the database the migrations built
    async with UnitOfWork(state.read_factory) as uow:
        conn = await uow.session.connection()

        # When the indexes on staff and stores are read
        def names(sync: Any) -> dict[str, Any]:
            found = {}
            for table in ("staff", "stores"):
                for i in inspect(sync).get_indexes(table):
                    found[i["name"]] = i["column_names"]
            return found

        found = await conn.run_sync(names)
    # Then each leads with the merchant, then the name, then the id
    assert found.get("ix_staff_merchant_name") == ["merchant_id", "name", "id"]
    assert found.get("ix_stores_merchant_name") == ["merchant_id", "name", "id"]


@pytest.mark.parametrize("page", ["attribution", "o2o"])
async def test_the_pickers_read_names_in_index_order(state: AppState, page: str) -> None:
    tenant = Tenant(1, "m")
    async with UnitOfWork(state.read_factory) as uow:
        s = uow.session
        # Given the statements a console picker sends
        with reading(state) as seen:
            if page == "attribution":
                await attribution_pages._choices(s, tenant, None)
            else:
                await o2o_pages._choices(s, tenant)
        by_name = [
            (sql, params)
            for sql, params in zip(seen.statements, seen.parameters, strict=True)
            if "ORDER BY staff.name" in sql or "ORDER BY stores.name" in sql
        ]
        assert len(by_name) == 2, seen.statements
        # When the planner is asked how it reads each
        plans = []
        for sql, params in by_name:
            conn = await s.connection()
            if state.is_sqlite:
                rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(params))
                plans.append(" ".join(str(r[-1]) for r in rows))
            else:
                rows = await conn.exec_driver_sql(f"EXPLAIN {sql}", tuple(params))
                plans.append(" ".join(str(r[0]) for r in rows))
    # Then through the name index, without sorting everything the merchant has
    for plan in plans:
        assert "_merchant_name" in plan, plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
