"""A page of share chains costs the same few statements however many chains and shares it
holds (CONVENTIONS rule 13)."""

from __future__ import annotations

from sqlalchemy import select

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.models import Store
from loopmall.social import chains, service
from tests.orders.test_query_counts import counting
from tests.social.helpers import person
from tests.storefront.seed import seed_mall


async def _grow(state: AppState, tenant: Tenant, how_many: int, depth: int) -> None:
    """``how_many`` chains of ``depth`` shares (home and store pages), each opened once."""
    async with UnitOfWork(state.read_factory) as uow:
        store = str(await uow.session.scalar(select(Store.public_id)))
    for n in range(how_many):
        parent = None
        for level in range(depth):
            who = await person(state, tenant, f"人{n}-{level}")
            kind, ref = ("store", store) if level % 2 else ("home", "")
            async with UnitOfWork(state.write_factory) as uow:
                made = await service.create_share(
                    uow.session,
                    tenant,
                    sharer_customer_id=who.customer_id,
                    target_kind=kind,
                    target_ref=ref,
                    parent_share_id=parent,
                )
                await service.record_visit(
                    uow.session, tenant, made, visitor_id=f"v_{n}_{level}_visitor", customer_id=None
                )
                await uow.commit()
                parent = made.id


async def _count(state: AppState, tenant: Tenant) -> tuple[int, int]:
    async with UnitOfWork(state.read_factory) as uow:
        with counting(state) as statements:
            trees, _next = await chains.list_chains(uow.session, tenant, limit=20)
    return len(statements), sum(t.chain_size for t in trees)


async def test_chains_page_statements_do_not_grow_with_shares(state: AppState) -> None:
    mall = await seed_mall(state)
    await _grow(state, mall.tenant, 1, 2)
    small, shares_small = await _count(state, mall.tenant)
    await _grow(state, mall.tenant, 3, 3)
    large, shares_large = await _count(state, mall.tenant)
    assert (shares_small, shares_large) == (2, 11)
    assert small == large
    assert large <= 7
