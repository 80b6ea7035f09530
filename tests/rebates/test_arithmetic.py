"""Commission arithmetic under hypothesis: the pure rules (earning, cap, the claw-back
rounding rule), and the ledger itself on both backends, fed refunds in random amounts,
delivered in random order and replayed: never more given back than earned, never a
negative total, a full refund gives back everything."""

from __future__ import annotations

import asyncio
import math
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from loopmall.attribution.events import AttributionCredited
from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import sandbox_login
from loopmall.orders import service as orders
from loopmall.rebates import ledger, service
from loopmall.rebates.models import CommissionEntry
from loopmall.rebates.rules import (
    CommissionRulesOver100,
    DistributorPolicy,
    Rates,
    check_rates,
    clawback_due,
    commission_for,
)
from tests.factories import make_merchant, make_staff

amounts = st.integers(min_value=1, max_value=100_000_000)
rates = st.integers(min_value=0, max_value=10_000)


@given(amount=amounts, rate=rates, cap=st.none() | st.integers(0, 10_000_000))
def test_an_earning_is_the_rate_rounded_half_up_within_the_cap(
    amount: int, rate: int, cap: int | None
) -> None:
    earned = commission_for(amount, rate, cap)
    exact = Fraction(amount * rate, 10_000)
    uncapped = math.floor(exact + Fraction(1, 2))  # half up
    assert earned == (uncapped if cap is None else min(uncapped, cap))
    assert 0 <= earned <= amount


@given(
    earned=st.integers(0, 10_000_000),
    paid=amounts,
    cuts=st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=8),
)
def test_clawbacks_grow_with_the_refund_and_never_pass_the_earning(
    earned: int, paid: int, cuts: list[float]
) -> None:
    refunded = sorted({min(paid, int(paid * c)) for c in cuts} | {paid})
    dues = [clawback_due(earned, paid, r) for r in refunded]
    assert all(0 <= d <= earned for d in dues)
    assert dues == sorted(dues)  # each further refund gives back more or the same
    assert dues[-1] == earned  # refunded in full: everything comes back
    assert clawback_due(earned, paid, 0) == 0


def test_the_rounding_rule_by_example() -> None:
    assert clawback_due(989, 29_700, 9_900) == 330  # 329.67 → 330
    assert clawback_due(3, 2, 1) == 2  # 1.5 → 2 (half up)
    assert clawback_due(5, 4, 1) == 1  # 1.25 → 1
    assert clawback_due(0, 100, 50) == 0


@given(st.tuples(rates, rates, rates, rates))
def test_rates_over_100_percent_are_refused(four: tuple[int, int, int, int]) -> None:
    r = Rates(*four)
    try:
        check_rates(r)
        accepted = True
    except CommissionRulesOver100:
        accepted = False
    assert accepted == (sum(four) <= 10_000)


refund_plans = st.lists(st.integers(1, 100), min_size=1, max_size=6)


def test_the_ledger_gives_back_in_proportion_whatever_the_order_of_refunds(
    db_url: str, backend: str, tmp_path: Path
) -> None:
    loop = asyncio.new_event_loop()
    previous = clock.install(clock.FrozenClock())
    state = AppState.build(
        Settings(
            env="test",
            database_url=db_url,
            data_dir=tmp_path,
            auto_migrate=False,
            run_background=False,
            secret_key="test-secret",
        )
    )
    run = loop.run_until_complete

    async def setup() -> tuple[Any, int, int]:
        tenant = await make_merchant(state, f"m{uuid.uuid4().hex[:8]}")
        guide = await make_staff(state, tenant, role="guide", phone="13800000009")
        async with UnitOfWork(state.write_factory) as uow:
            sharer, _t = await sandbox_login(uow.session, tenant, name="分销员")
            await uow.commit()
        return tenant, guide.staff_id, sharer.id

    tenant, guide_id, sharer_id = run(setup())
    credit_ids = iter(range(1, 10_000))

    @settings(
        max_examples=25 if backend == "sqlite" else 10,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        paid=st.integers(1, 1_000_000),
        guide_bp=rates,
        level1_bp=rates,
        cap=st.none() | st.integers(0, 5_000),
        parts=refund_plans,
        full=st.booleans(),
        order=st.randoms(use_true_random=False),
    )
    def example(
        paid: int,
        guide_bp: int,
        level1_bp: int,
        cap: int | None,
        parts: list[int],
        full: bool,
        order: Any,
    ) -> None:
        if guide_bp + level1_bp > 10_000:
            level1_bp = 10_000 - guide_bp
        # Refunds as cumulative totals (what order.refunded carries), in random order with
        # replays; the last one reaches the paid amount when ``full``.
        weights = sum(parts) + (0 if full else 1)
        cumulative = [min(paid, paid * sum(parts[: i + 1]) // weights) for i in range(len(parts))]
        deliveries = cumulative + order.sample(cumulative, k=min(2, len(cumulative)))
        order.shuffle(deliveries)

        async def go() -> None:
            async with UnitOfWork(state.write_factory) as uow:
                s = uow.session
                await service.update_rules(
                    s,
                    tenant,
                    Rates(
                        guide_bp=guide_bp,
                        level1_bp=level1_bp,
                        distributor_cap_fen=cap,
                        distributors=DistributorPolicy.EVERYONE,
                    ),
                    actor="test",
                )
                made = await orders.create_face_to_face_order(
                    s,
                    tenant,
                    amount_fen=paid,
                    store_id=None,
                    guide_staff_id=guide_id,
                    customer_id=None,
                    note="",
                    unpaid_ttl_seconds=600,
                )
                await orders.mark_paid(
                    s, tenant, made.id, amount_fen=paid, payment_id=1, paid_at=clock.now()
                )
                credits = [
                    {"credit_id": next(credit_ids), "role": "guide", "guide_staff_id": guide_id},
                    {
                        "credit_id": next(credit_ids),
                        "role": "sharer",
                        "sharer_customer_id": sharer_id,
                    },
                ]
                payload = AttributionCredited.model_validate(
                    {
                        "merchant_id": tenant.id,
                        "order_id": made.id,
                        "order_public_id": made.public_id,
                        "customer_id": None,
                        "amount_fen": paid,
                        "credits": credits,
                    }
                )
                earnings = await ledger.book_credits(s, tenant, payload)
                assert await ledger.book_credits(s, tenant, payload) == []  # replayed
                earned = {e.id: e.amount_fen for e in earnings}
                for refunded in deliveries:
                    await ledger.claw_back(s, tenant, made.id, paid_fen=paid, refunded_fen=refunded)
                    given = await _given_back(s, made.id)
                    for earning_id, amount in earned.items():
                        assert 0 <= given.get(earning_id, 0) <= amount
                top = max(deliveries)
                given = await _given_back(s, made.id)
                for earning_id, amount in earned.items():
                    assert given.get(earning_id, 0) == clawback_due(amount, paid, top)
                    if top == paid:
                        assert given.get(earning_id, 0) == amount
                await uow.commit()

        run(go())

    try:
        example()
    finally:
        run(state.close())
        loop.close()
        clock.install(previous)


async def _given_back(session: Any, order_id: int) -> dict[int, int]:
    rows = await session.execute(
        select(CommissionEntry.earning_id, func.sum(-CommissionEntry.amount_fen))
        .where(CommissionEntry.order_id == order_id, CommissionEntry.kind == "clawback")
        .group_by(CommissionEntry.earning_id)
    )
    return {int(i): int(s) for i, s in rows.all()}
