"""The ledger's running totals (issue #11, chain scale): kept with the credits, equal to the
sums over the credits for every filter, right under concurrent crediting, and read instead
of the credits — a ledger view reads the same rows however many credits the merchant has."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, text

from loopmall.attribution import repository, totals
from loopmall.attribution.api import shanghai_day_start
from loopmall.attribution.ledger import credit_orders
from loopmall.attribution.models import Credit, CreditTotal
from loopmall.attribution.service import record_touch
from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.orders.models import Order
from tests.attribution.world import World, customer, make_world
from tests.orders.test_query_counts import counting

# 15:30 UTC is 23:30 in Shanghai: orders a few hours apart fall on different Shanghai days.
T0 = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)


def _order(w: World, n: int, at: datetime, **kw: object) -> Order:
    fields: dict[str, object] = {
        "kind": "store_sale",
        "status": "paid",
        "fulfilment": "pickup",
        "payment_method": "online",
        "customer_id": None,
        "total_fen": 1_000 + n,
        "paid_fen": 1_000 + n,
    }
    fields.update(kw)
    return Order(
        merchant_id=w.tenant.id,
        public_id=new_public_id("ord"),
        number=f"T{n}-{new_public_id('n')}",
        created_at=at,
        updated_at=at,
        **fields,
    )


async def _store_sales(state: AppState, w: World, n: int, start: int = 0) -> list[int]:
    """``n`` paid store sales (store and guide credited), alternating the two stores and
    guides, an hour apart across Shanghai midnights."""
    async with UnitOfWork(state.write_factory) as uow:
        orders = []
        for i in range(start, start + n):
            store, guide = (w.store.id, w.guide) if i % 2 else (w.other_store.id, w.other_guide)
            orders.append(
                _order(w, i, T0 + timedelta(hours=3 * i), store_id=store, guide_staff_id=guide)
            )
        uow.session.add_all(orders)
        await uow.session.flush()
        await uow.commit()
        return [o.id for o in orders]


async def _shared_orders(state: AppState, w: World, n: int) -> list[int]:
    """``n`` mall orders after a store scan (QR channel 7 or 8) and a share (1 or 2): store,
    guide and sharer credits for one order each, two of them naming the channel."""
    sharer, _ = await customer(state, w.tenant, "分享者")
    ids = []
    for i in range(n):
        me, _ = await customer(state, w.tenant, f"顾客{i}")
        at = T0 + timedelta(hours=5 * i)
        async with UnitOfWork(state.write_factory) as uow:
            for kw in (
                {
                    "kind": "scan",
                    "store_id": w.store.id,
                    "guide_staff_id": w.guide,
                    "channel_id": 7 + i % 2,
                },
                {"kind": "share", "share_id": i % 2 + 1, "sharer_customer_id": sharer},
            ):
                await record_touch(
                    uow.session, w.tenant, customer_id=me, visitor_id=None,
                    at=at - timedelta(hours=1), **kw,
                )  # fmt: skip
            order = _order(w, 100 + i, at, kind="mall", fulfilment="delivery", customer_id=me)
            uow.session.add(order)
            await uow.session.flush()
            ids.append(order.id)
            await uow.commit()
    return ids


async def _credit(state: AppState, tenant: Tenant, ids: list[int]) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        await credit_orders(uow.session, tenant, ids, announce=False)
        await uow.commit()


async def _counted(
    state: AppState, tenant: Tenant, f: repository.LedgerFilter
) -> list[repository.RoleTotals]:
    """The per-role totals counted from the credits, as the ledger did before the totals."""
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.execute(
            select(
                Credit.role,
                func.count(),
                func.count(func.distinct(Credit.order_id)),
                func.coalesce(func.sum(Credit.amount_fen), 0),
            )
            .where(Credit.merchant_id == tenant.id, *f.criteria())
            .group_by(Credit.role)
            .order_by(Credit.role)
        )
        return [repository.RoleTotals(r, int(c), int(o), int(a)) for r, c, o, a in rows]


async def _kept(
    state: AppState, tenant: Tenant, f: repository.LedgerFilter
) -> list[repository.RoleTotals]:
    async with UnitOfWork(state.read_factory) as uow:
        page = await repository.ledger(uow.session, tenant, f, limit=1)
        return page.totals


def _filters(w: World) -> list[repository.LedgerFilter]:
    day = (T0 + timedelta(hours=9)).astimezone(clock.SHANGHAI).date()
    since, until = shanghai_day_start(day), shanghai_day_start(day + timedelta(days=2))
    return [
        repository.LedgerFilter(),
        repository.LedgerFilter(role="guide"),
        repository.LedgerFilter(role="sharer"),
        repository.LedgerFilter(rule="order_store"),
        repository.LedgerFilter(store_id=w.store.id),
        repository.LedgerFilter(guide_staff_id=w.other_guide),
        repository.LedgerFilter(since=since),
        repository.LedgerFilter(until=until),
        repository.LedgerFilter(since=since, until=until, role="store"),
        repository.LedgerFilter(store_ids=frozenset({w.store.id})),
        repository.LedgerFilter(store_ids=frozenset({w.store.id}), store_id=w.other_store.id),
        repository.LedgerFilter(store_id=-1),
        # Cuts the totals do not keep: counted from the guide's or the range's credits.
        repository.LedgerFilter(guide_staff_id=w.guide, store_id=w.store.id),
        repository.LedgerFilter(since=since + timedelta(hours=5)),
    ]


async def test_kept_totals_equal_the_sums_over_the_credits_for_every_filter(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given store sales over several Shanghai days and mall orders with three roles each,
    # credited in three batches (one of them a single order)
    w = await make_world(state, client)
    sales = await _store_sales(state, w, 9)
    shared = await _shared_orders(state, w, 3)
    await _credit(state, w.tenant, sales[:5])
    await _credit(state, w.tenant, sales[5:] + shared[:2])
    await _credit(state, w.tenant, shared[2:])
    # Crediting again adds nothing (idempotent).
    await _credit(state, w.tenant, sales + shared)
    # Then every filter's per-role totals are the counted ones, distinct orders included
    everything = await _kept(state, w.tenant, repository.LedgerFilter())
    assert [(t.role, t.credits, t.orders) for t in everything] == [
        ("guide", 12, 12),
        ("sharer", 3, 3),
        ("store", 12, 12),
    ]
    assert sum(t.amount_fen for t in everything) == 2 * sum(range(1_000, 1_009)) + 3 * sum(
        range(1_100, 1_103)
    )
    for f in _filters(w):
        assert await _kept(state, w.tenant, f) == await _counted(state, w.tenant, f), f


async def test_the_migration_fills_the_totals_as_crediting_keeps_them(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given credited orders and their kept totals
    w = await make_world(state, client)
    await _credit(state, w.tenant, await _store_sales(state, w, 7))
    await _credit(state, w.tenant, await _shared_orders(state, w, 2))

    async def kept() -> list[tuple[object, ...]]:
        async with UnitOfWork(state.read_factory) as uow:
            rows = await uow.session.execute(
                select(
                    CreditTotal.scope, CreditTotal.scope_id, CreditTotal.day, CreditTotal.role,
                    CreditTotal.rule, CreditTotal.credits, CreditTotal.amount_fen,
                ).order_by(*CreditTotal.__table__.c["scope", "scope_id", "day", "role", "rule"])
            )  # fmt: skip
            return [tuple(r) for r in rows]

    before = await kept()
    assert len(before) > 10
    # When they are rebuilt from the credits in the database (as migration 0023 does)
    async with UnitOfWork(state.write_factory) as uow:
        await totals.rebuild(uow.session, w.tenant)
        await uow.commit()
    # Then they are the same rows
    assert await kept() == before


async def test_concurrent_crediting_loses_no_update(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given 24 store sales of the same stores and guides on the same few days
    w = await make_world(state, client)
    sales = await _store_sales(state, w, 24)
    # When 8 transactions credit 3 each at the same time
    await asyncio.gather(*(_credit(state, w.tenant, sales[i::8]) for i in range(8)))
    # Then the kept totals are the counted ones, every credit in them
    for f in _filters(w):
        assert await _kept(state, w.tenant, f) == await _counted(state, w.tenant, f), f
    assert [
        (t.role, t.credits) for t in await _kept(state, w.tenant, repository.LedgerFilter())
    ] == [
        ("guide", 24),
        ("store", 24),
    ]


READ = text(
    "SELECT seq_tup_read + COALESCE(idx_tup_fetch, 0) "
    "FROM pg_stat_xact_user_tables WHERE relname = 'attribution_credits'"
)


async def _view_reads(state: AppState, backend: str, tenant: Tenant) -> tuple[list[str], int]:
    """A ledger view (a page of 5 and the totals): the statements that read the credits, and
    on PostgreSQL the credit rows it read, as the planner reads a chain's table (by index)."""
    async with UnitOfWork(state.read_factory) as uow:
        s = uow.session
        if backend == "postgres":
            await s.execute(text("SET LOCAL enable_seqscan = off"))
            before = int(await s.scalar(READ) or 0)
        with counting(state) as statements:
            page = await repository.ledger(s, tenant, repository.LedgerFilter(), limit=5)
        assert len(page.items) == 5
        rows = int(await s.scalar(READ) or 0) - before if backend == "postgres" else 0
    return [q for q in statements if "attribution_credits" in q], rows


async def test_a_ledger_view_reads_the_same_rows_with_ten_times_the_credits(
    state: AppState, client: httpx.AsyncClient, backend: str
) -> None:
    # Given a merchant with 8 credited store sales
    w = await make_world(state, client)
    await _credit(state, w.tenant, await _store_sales(state, w, 4))
    small, small_rows = await _view_reads(state, backend, w.tenant)
    # When it has ten times as many
    await _credit(state, w.tenant, await _store_sales(state, w, 36, start=4))
    big, big_rows = await _view_reads(state, backend, w.tenant)
    # Then a view reads the credits once, a page by index with a LIMIT (the totals are kept)
    assert len(small) == len(big) == 1
    assert "LIMIT" in big[0].upper()
    assert big_rows == small_rows
    if backend == "postgres":
        assert big_rows <= 6


async def _counted_through(
    state: AppState, tenant: Tenant, column: Any, ids: list[int]
) -> dict[int, tuple[int, int]]:
    """Orders and amount per channel or share counted from the credits, an order once."""
    async with UnitOfWork(state.read_factory) as uow:
        per_order = (
            select(column.label("key"), func.max(Credit.amount_fen).label("fen"))
            .where(Credit.merchant_id == tenant.id, column.in_(ids))
            .group_by(column, Credit.order_id)
            .subquery()
        )
        rows = await uow.session.execute(
            select(per_order.c.key, func.count(), func.sum(per_order.c.fen)).group_by(
                per_order.c.key
            )
        )
        found = {i: (0, 0) for i in ids}
        found.update({int(k): (int(n), int(fen)) for k, n, fen in rows})
        return found


async def test_channel_and_share_totals_are_kept_an_order_once_without_reading_credits(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given mall orders through QR channels 7 and 8 and shares 1 and 2, whose store and
    # guide credits both name the channel, credited in two batches
    w = await make_world(state, client)
    shared = await _shared_orders(state, w, 5)
    await _credit(state, w.tenant, shared[:1])
    await _credit(state, w.tenant, shared[1:])
    # When the QR funnels and share chains ask for their figures
    async with UnitOfWork(state.read_factory) as uow:
        with counting(state) as statements:
            channels = await repository.totals_by_channel(uow.session, w.tenant, [7, 8, 9])
            shares = await repository.totals_by_share(uow.session, w.tenant, [1, 2, 3])
    # Then each order counts once, with its amount, as counted from the credits
    assert {k: (t.orders, t.gmv_fen) for k, t in channels.items()} == {
        7: (3, 1_100 + 1_102 + 1_104),
        8: (2, 1_101 + 1_103),
        9: (0, 0),
    }
    assert channels == {
        k: repository.ChannelTotals(*v)
        for k, v in (await _counted_through(state, w.tenant, Credit.channel_id, [7, 8, 9])).items()
    }
    assert shares == {
        k: repository.ShareTotals(*v)
        for k, v in (await _counted_through(state, w.tenant, Credit.share_id, [1, 2, 3])).items()
    }
    # And the credits themselves are not read: the kept totals answer
    assert len(statements) == 2
    assert not [q for q in statements if "attribution_credits" in q]
