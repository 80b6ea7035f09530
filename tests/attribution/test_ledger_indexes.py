"""The ledger's pages (``repository.ledger``) are read by index, newest first, with a LIMIT —
the merchant's, one store's, one guide's, one role's, one rule's credits (migrations 0023,
0026): without these PostgreSQL walked the primary key back through other stores' credits
(a store's page: 9,874 rows read for 51 at 100,000 credits, bench chainscale) or read every
credit of the merchant for a role or rule it has few of."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.dialects import postgresql, sqlite

from loopmall.attribution import repository
from loopmall.attribution.models import Credit
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.uow import UnitOfWork

PAGES = {
    "ix_attribution_credits_newest": repository.LedgerFilter(),
    "ix_attribution_credits_store_newest": repository.LedgerFilter(store_id=7),
    "ix_attribution_credits_guide_newest": repository.LedgerFilter(guide_staff_id=7),
    "ix_attribution_credits_role_newest": repository.LedgerFilter(role="sharer"),
    "ix_attribution_credits_rule_newest": repository.LedgerFilter(rule="payment_code"),
}


async def test_the_migrated_credits_table_has_the_page_indexes(state: AppState) -> None:
    # Given the database the migrations built
    async with UnitOfWork(state.read_factory) as uow:
        conn = await uow.session.connection()
        # When its indexes on the credits are read
        indexes = await conn.run_sync(lambda sync: inspect(sync).get_indexes("attribution_credits"))
    # Then each page's filter leads, after the merchant, and the id follows
    found = {i["name"]: i["column_names"] for i in indexes}
    assert {name: found.get(name) for name in PAGES} == {
        "ix_attribution_credits_newest": ["merchant_id", "id"],
        "ix_attribution_credits_store_newest": ["merchant_id", "store_id", "id"],
        "ix_attribution_credits_guide_newest": ["merchant_id", "guide_staff_id", "id"],
        "ix_attribution_credits_role_newest": ["merchant_id", "role", "id"],
        "ix_attribution_credits_rule_newest": ["merchant_id", "rule", "id"],
    }


@pytest.mark.parametrize("index", sorted(PAGES))
async def test_the_planner_reads_each_page_through_its_index(state: AppState, index: str) -> None:
    # Given a page of the ledger as repository.ledger asks for it
    stmt = (
        scoped(Credit, Tenant(1, "m"), *PAGES[index].criteria())
        .order_by(Credit.id.desc())
        .limit(51)
    )
    dialect = sqlite.dialect() if state.is_sqlite else postgresql.dialect()
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    async with UnitOfWork(state.read_factory) as uow:
        s = uow.session
        # When the planner is asked how it reads it
        if state.is_sqlite:
            rows = await s.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
            plan = " ".join(str(r[-1]) for r in rows)
        else:
            plan = " ".join(str(r[0]) for r in await s.execute(text(f"EXPLAIN {sql}")))
    # Then through its index, in id order (no sort of everything the filter matches); on
    # SQLite every index ends with the rowid, so the merchant's own index is (merchant, id)
    same = {index}
    if state.is_sqlite and index == "ix_attribution_credits_newest":
        same.add("ix_attribution_credits_merchant_id ")
    assert any(name in plan + " " for name in same), plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
