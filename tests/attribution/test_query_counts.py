"""CONVENTIONS rule 13: crediting a batch and reading a ledger page load on purpose — the
number of statements does not grow with the number of orders or credits."""

from __future__ import annotations

from datetime import timedelta

import httpx

from loopmall.attribution import repository, views
from loopmall.attribution.ledger import credit_orders
from loopmall.attribution.service import record_touch
from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.orders.models import Order
from tests.attribution.world import World, customer, make_world
from tests.orders.test_query_counts import counting


async def _orders(state: AppState, w: World, n: int, tag: str) -> list[int]:
    """``n`` paid orders of ``n`` customers, each after a share touch and a store scan."""
    ids = []
    sharer, _ = await customer(state, w.tenant, f"分享者{tag}")
    for i in range(n):
        me, _ = await customer(state, w.tenant, f"{tag}{i}")
        async with UnitOfWork(state.write_factory) as uow:
            s, now = uow.session, clock.now()
            for kw in (
                {"kind": "scan", "store_id": w.store.id, "guide_staff_id": w.guide},
                {"kind": "share", "share_id": i + 1, "sharer_customer_id": sharer},
            ):
                await record_touch(
                    s, w.tenant, customer_id=me, visitor_id=None, at=now - timedelta(days=1), **kw
                )
            order = Order(
                merchant_id=w.tenant.id,
                public_id=new_public_id("ord"),
                number=f"Q{tag}{i}",
                kind="mall",
                status="paid",
                fulfilment="delivery",
                payment_method="online",
                customer_id=me,
                total_fen=500,
                paid_fen=500,
                created_at=now,
                updated_at=now,
            )
            s.add(order)
            await s.flush()
            ids.append(order.id)
            await uow.commit()
    return ids


async def _credit_count(state: AppState, tenant: Tenant, ids: list[int]) -> int:
    async with UnitOfWork(state.write_factory) as uow:
        with counting(state) as statements:
            assert len(await credit_orders(uow.session, tenant, ids)) == len(ids)
        await uow.commit()
        return len(statements)


async def _ledger_count(state: AppState, tenant: Tenant) -> tuple[int, int]:
    async with UnitOfWork(state.read_factory) as uow:
        with counting(state) as statements:
            page = await repository.ledger(uow.session, tenant, repository.LedgerFilter())
            out = await views.ledger_out(uow.session, tenant, page)
        return len(statements), len(out.items)


async def test_a_batch_and_a_ledger_page_cost_a_fixed_number_of_statements(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    small = await _orders(state, w, 1, "a")
    big = await _orders(state, w, 6, "b")
    # Orders, already credited, rules, touches, bindings, the credits, the running totals,
    # their ids, the events.
    assert await _credit_count(state, w.tenant, small) == 9
    assert await _credit_count(state, w.tenant, big) == 9
    statements, credits = await _ledger_count(state, w.tenant)
    assert credits == 7 * 3  # store, guide, sharer per order
    # The page, the per-role totals, then orders, stores, staff and customers by id.
    assert statements == 6
