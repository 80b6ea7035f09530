"""``commission.earned``, ``commission.clawed_back`` and ``commission.settled``: one event per
ledger line booked (in the transaction that books it), and one per settlement made; a replayed
credit, a repeated refund or a settlement asked for again announce nothing new."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from loopmall.core.clock import FrozenClock
from loopmall.core.events import Event
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import envelope_of
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.rebates.events import CommissionClawedBack, CommissionEarned, CommissionSettled
from loopmall.rebates.models import CommissionEntry
from tests.rebates.fixtures import make_world

SETTLE = "/api/v1/commission/settlements"


async def published(state: AppState, topic: str) -> list[Event]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id)
        )
        return [envelope_of(row).event() for row in rows]


async def ledger(state: AppState) -> list[CommissionEntry]:
    async with UnitOfWork(state.read_factory) as uow:
        return list(
            (await uow.session.scalars(select(CommissionEntry).order_by(CommissionEntry.id))).all()
        )


async def test_bookings_and_settlements_are_published_once_each(
    state: AppState, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(datetime(2026, 3, 10, 4, tzinfo=UTC))
    w = await make_world(state, client)
    await w.rules(store_bp=100, guide_bp=1000)
    order = await w.order()
    credits = w.credits("store", "guide")
    await w.credit(order, credits)
    await w.credit(order, credits)  # the same credits again: booked once, told once

    store, guide = await ledger(state)
    earned = await published(state, "commission.earned")
    assert earned == [
        CommissionEarned(
            merchant_id=w.tenant.id,
            entry_id=entry.id,
            entry_public_id=entry.public_id,
            order_id=order.id,
            order_public_id=order.public_id,
            earner_kind=entry.earner_kind,
            earner_id=entry.earner_id,
            store_id=w.store_id,
            role=entry.role,
            rate_bp=entry.rate_bp,
            base_fen=order.paid_fen,
            amount_fen=entry.amount_fen,
        )
        for entry in (store, guide)
    ]
    assert [(e.earner_kind, e.amount_fen) for e in earned] == [("store", 99), ("staff", 990)]  # type: ignore[attr-defined]
    assert earned[0].aggregate == f"order:{order.id}"

    frozen_clock.set(datetime(2026, 3, 11, 4, tzinfo=UTC))
    made = await client.post(SETTLE, json={"through": "2026-03-10"}, headers=w.owner)
    assert made.status_code == 201, made.text
    await client.post(SETTLE, json={"through": "2026-03-10"}, headers=w.owner)  # the same
    await w.refund(order, order.paid_fen // 2)

    clawed = await published(state, "commission.clawed_back")
    entries = await ledger(state)
    assert [
        (c.earning_public_id, c.amount_fen, c.refunded_fen, c.entry_public_id)  # type: ignore[attr-defined]
        for c in clawed
    ] == [
        (store.public_id, 50, order.paid_fen // 2, entries[2].public_id),
        (guide.public_id, 495, order.paid_fen // 2, entries[3].public_id),
    ]
    assert all(isinstance(c, CommissionClawedBack) for c in clawed)
    (settled,) = await published(state, "commission.settled")
    assert isinstance(settled, CommissionSettled)
    body = made.json()
    assert settled.settlement_public_id == body["id"]
    assert settled.period_start is None
    assert settled.period_end == datetime(2026, 3, 10, 16, tzinfo=UTC)
    assert (settled.entries, settled.earners) == (2, 2)
    assert (settled.earned_fen, settled.clawed_back_fen, settled.total_fen) == (1089, 0, 1089)
