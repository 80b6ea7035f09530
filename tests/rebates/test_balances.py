"""The running commission balances (#11, chain scale): each earner's balance and the
merchant's totals are kept as the ledger is written and settled, and always equal the sums
of the ledger's lines — after earnings, claw-backs before and after a settlement, replays,
concurrent bookings (no lost update on PostgreSQL), a rebuild and migration 0022's fill."""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import delete, func, select, text

from loopmall.attribution.events import AttributionCredited
from loopmall.core.clock import FrozenClock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.core.valueset import CHUNK
from loopmall.rebates import balances, ledger
from loopmall.rebates.models import CommissionBalance, CommissionEntry, CommissionTotals
from loopmall.rebates.rules import EarnerKind
from tests.rebates.fixtures import World, make_world
from tests.statement_params import counting_params

SETTLE = "/api/v1/commission/settlements"
SINCE_2000 = datetime(2000, 1, 1, tzinfo=UTC)


async def _reconcile(w: World) -> list[str]:
    async with UnitOfWork(w.state.read_factory) as uow:
        return await balances.reconcile(uow.session, w.tenant)


async def _summed_totals(w: World, f: ledger.EntryFilter) -> dict[str, int]:
    """The totals summed over the ledger's lines (a date filter makes ``totals`` sum them;
    every line is later than 2000)."""
    async with UnitOfWork(w.state.read_factory) as uow:
        return await ledger.totals(uow.session, w.tenant, replace(f, since=SINCE_2000))


async def _check(w: World) -> None:
    """The kept sums equal the ledger's, and the totals read from them equal the sums of
    the lines under every filter the balances answer."""
    assert await _reconcile(w) == []
    filters = [
        ledger.EntryFilter(settled=settled, earner_kind=kind, earner_id=ident, store_id=store)
        for settled in (None, True, False)
        for kind, ident, store in (
            (None, None, None),
            (EarnerKind.STAFF, w.guide_id, None),
            (None, None, w.store_id),
        )
    ]
    async with UnitOfWork(w.state.read_factory) as uow:
        for f in filters:
            assert await ledger.totals(uow.session, w.tenant, f) == await _summed_totals(w, f), f


async def test_balances_equal_the_ledger_after_earnings_clawbacks_and_settlements(
    state: AppState, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(datetime(2026, 3, 10, 4, tzinfo=UTC))
    w = await make_world(state, client)
    await w.rules(
        store_bp=100, guide_bp=1000, level1_bp=500, level2_bp=200, distributors="everyone"
    )
    first, second, third = await w.order(), await w.order(2), await w.order()
    for o in (first, second, third):
        await w.credit(o, w.credits("store", "guide", "sharer", "upstream_sharer"))
    await _check(w)
    await w.refund(second, 5000)  # a partial refund: claw-backs before any settlement
    await w.credit(first, w.credits("store"))  # a second credit of the same order
    await _check(w)

    frozen_clock.set(datetime(2026, 3, 11, 4, tzinfo=UTC))
    made = await client.post(SETTLE, json={"through": "2026-03-10"}, headers=w.owner)
    assert made.status_code == 201, made.text
    await _check(w)
    async with UnitOfWork(state.read_factory) as uow:
        kept = await balances.merchant_totals(uow.session, w.tenant)
    assert (kept.unsettled_entries, kept.unsettled_fen) == (0, 0)
    assert kept.earned_fen - kept.clawed_back_fen == made.json()["total_fen"]

    await w.refund(first, first.paid_fen)  # after the settlement: falls into the next
    await w.refund(second, second.paid_fen - 5000)
    async with UnitOfWork(state.write_factory) as uow:  # the refund event replayed
        replayed = await ledger.claw_back(
            uow.session, w.tenant, second.id, paid_fen=second.paid_fen, refunded_fen=second.paid_fen
        )
        await uow.commit()
    assert replayed == []
    late = await w.order()
    await w.credit(late, w.credits("guide"))
    await _check(w)
    page = await w.entries(settled="false")
    assert page["totals"] == await _summed_totals(w, ledger.EntryFilter(settled=False))

    frozen_clock.set(datetime(2026, 3, 12, 4, tzinfo=UTC))
    again = await client.post(SETTLE, json={"through": "2026-03-11"}, headers=w.owner)
    assert again.status_code == 201, again.text
    await _check(w)
    async with UnitOfWork(state.read_factory) as uow:
        unsettled = await ledger.unsettled_by_earner(uow.session, w.tenant)
    assert unsettled == []


async def test_concurrent_bookings_and_clawbacks_lose_no_update(
    state: AppState, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    # Given twelve paid orders, each credited to the same store and guide
    frozen_clock.set(datetime(2026, 3, 10, 4, tzinfo=UTC))
    w = await make_world(state, client)
    await w.rules(store_bp=100, guide_bp=1000)
    made = [await w.order() for _ in range(12)]

    async def book(order: Any) -> None:
        async with UnitOfWork(state.write_factory) as uow:
            payload = AttributionCredited.model_validate(
                {
                    "merchant_id": w.tenant.id,
                    "order_id": order.id,
                    "order_public_id": order.public_id,
                    "customer_id": order.customer_id,
                    "amount_fen": order.paid_fen,
                    "credits": w.credits("store", "guide"),
                }
            )
            await ledger.book_credits(uow.session, w.tenant, payload)
            await asyncio.sleep(0)  # let the others book while this one holds its rows
            await uow.commit()

    async def claw(order: Any) -> None:
        async with UnitOfWork(state.write_factory) as uow:
            await ledger.claw_back(
                uow.session, w.tenant, order.id, paid_fen=order.paid_fen, refunded_fen=3000
            )
            await asyncio.sleep(0)
            await uow.commit()

    # When they are booked eight at a time, then half of them clawed back at once
    await asyncio.gather(*(book(o) for o in made))
    await asyncio.gather(*(claw(o) for o in made[:6]))

    # Then every booking and claw-back is in the balances
    await _check(w)
    async with UnitOfWork(state.read_factory) as uow:
        kept = await balances.merchant_totals(uow.session, w.tenant)
    assert kept.entries == 12 * 2 + 6 * 2
    assert kept.earned_fen == 12 * (99 + 990)


async def test_rebuild_and_the_migrations_fill_give_the_kept_sums(
    state: AppState, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(datetime(2026, 3, 10, 4, tzinfo=UTC))
    w = await make_world(state, client)
    await w.rules(store_bp=100, guide_bp=1000)
    first, second = await w.order(), await w.order()
    for o in (first, second):
        await w.credit(o, w.credits("store", "guide"))
    frozen_clock.set(datetime(2026, 3, 11, 4, tzinfo=UTC))
    assert (await client.post(SETTLE, json={"through": "2026-03-10"}, headers=w.owner)).is_success
    await w.refund(first, 4000)
    assert await _reconcile(w) == []
    async with UnitOfWork(state.read_factory) as uow:
        kept = await balances.merchant_totals(uow.session, w.tenant)

    # The migration's fill, on a ledger whose sums were lost
    fill = importlib.import_module("migrations.versions.0022_commission_balances")
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(delete(CommissionBalance))
        await uow.session.execute(delete(CommissionTotals))
        await uow.commit()
    assert await _reconcile(w) != []  # the check sees a difference
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(text(fill.FILL_BALANCES))
        await uow.session.execute(text(fill.FILL_TOTALS))
        await uow.commit()
    assert await _reconcile(w) == []

    # ``rebuild`` after the balances went wrong
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(text("UPDATE commission_balances SET unsettled_fen = 7"))
        await uow.commit()
    assert len(await _reconcile(w)) == 2
    async with UnitOfWork(state.write_factory) as uow:
        await balances.rebuild(uow.session, w.tenant)
        await uow.commit()
    assert await _reconcile(w) == []
    async with UnitOfWork(state.read_factory) as uow:
        assert await balances.merchant_totals(uow.session, w.tenant) == kept


async def test_a_settlement_of_a_chains_earners_moves_every_balance_in_bounded_statements(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given a settlement that takes lines of 3,000 earners (a chain has 20,000 guides): one
    # balance change each, 13 parameters a row — one statement would bind 39,000, past
    # asyncpg's 32,767 (the chain-scale world's settlement failed so on PostgreSQL)
    w = await make_world(state, client)
    earners = 3_000
    lines = [(EarnerKind.STAFF.value, 10_000 + i, None, 1, 100, -10) for i in range(earners)]
    # When the balances are moved
    with counting_params(state) as seen:
        async with UnitOfWork(w.state.write_factory) as uow:
            await balances.settle_lines(uow.session, w.tenant, lines)
            await uow.commit()
    # Then no statement bound more than one chunk of rows (whatever the number of earners),
    # and every balance moved once
    assert seen.most_params <= CHUNK * 13 < 32_767, seen.worst
    async with UnitOfWork(w.state.read_factory) as uow:
        total = await balances.merchant_totals(uow.session, w.tenant)
        kept = await balances.sum_balances(
            uow.session, w.tenant, CommissionBalance.earner_id >= 10_000
        )
    assert kept.unsettled_entries == -earners
    assert kept.unsettled_fen == -earners * 90
    assert total.unsettled_entries == -earners + (await _ledger_unsettled(w))


async def _ledger_unsettled(w: World) -> int:
    """Unsettled lines the world's own ledger holds (its balances are in the totals too)."""
    async with UnitOfWork(w.state.read_factory) as uow:
        rows = await uow.session.scalars(
            select(func.count()).where(
                CommissionEntry.merchant_id == w.tenant.id,
                CommissionEntry.settlement_id.is_(None),
            )
        )
        return int(rows.one())
