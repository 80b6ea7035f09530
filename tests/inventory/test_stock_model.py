"""Random sequences of adjust / count / hold / release / consume / extend / clock moves /
sweeps, checked after every step against a plain model of what stock should be.

The machine drives the real service on the real database (both backends) with a frozen
clock. The model is the specification: available = on hand − units of holds that are
active and not expired; an expired hold is lapsed whether or not the sweep has run.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.errors import IllegalTransition
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.inventory import locations, repository, service
from loopmall.inventory.models import Hold, StockLevel, StockMovement
from loopmall.inventory.rules import BelowHeld, InsufficientStock
from tests.factories import make_merchant
from tests.inventory.fixtures import make_skus

SKUS = 2
# Most steps work one SKU so that its holds pile up; the other shows levels stay apart.
SKU = st.sampled_from([0, 0, 0, 1])
# Times in steps of 30 s, so that expiry often falls exactly on "now" (the boundary).
TTLS = st.integers(1, 4).map(lambda k: 30 * k)
TICKS = st.integers(0, 4).map(lambda k: 30 * k)
QUANTITY = st.one_of(st.integers(1, 4), st.sampled_from(["all", "all+1"]))


@dataclass
class ModelHold:
    sku: int
    quantity: int
    expires_at: datetime
    status: str = "active"

    def effective(self, now: datetime) -> str:
        if self.status == "active" and self.expires_at <= now:
            return "lapsed"
        return self.status


def machine_for(db_url: str, data_dir: Path) -> type[RuleBasedStateMachine]:
    class StockMachine(RuleBasedStateMachine):
        holds = Bundle("holds")

        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.clock = clock.FrozenClock()
            self.previous_clock = clock.install(self.clock)
            self.state = AppState.build(
                Settings(env="test", database_url=db_url, data_dir=data_dir)
            )
            self.on_hand = [0] * SKUS
            self.model_holds: dict[int, ModelHold] = {}
            self.run(self._setup())

        async def _setup(self) -> None:
            self.tenant = await make_merchant(self.state, f"m{uuid.uuid4().hex[:10]}")
            self.skus = [s.id for s in await make_skus(self.state, self.tenant, SKUS)]
            async with UnitOfWork(self.state.write_factory) as uow:
                self.location_id = (await locations.default_warehouse(uow.session, self.tenant)).id
                await uow.commit()

        def run(self, coro: Any) -> Any:
            return self.loop.run_until_complete(coro)

        def write(self, op: Any) -> Any:
            """Run ``op(session)`` in its own unit of work; commit only if it succeeds."""

            async def go() -> Any:
                async with UnitOfWork(self.state.write_factory) as uow:
                    result = await op(uow.session)
                    await uow.commit()
                    return result

            return self.run(go())

        def teardown(self) -> None:
            self.run(self.state.close())
            self.loop.close()
            clock.install(self.previous_clock)

        # The model

        def held(self, sku: int) -> int:
            now = self.clock.now()
            return sum(
                h.quantity
                for h in self.model_holds.values()
                if h.sku == sku and h.effective(now) == "active"
            )

        def available(self, sku: int) -> int:
            return self.on_hand[sku] - self.held(sku)

        # Rules

        @initialize(stock=st.lists(st.integers(0, 8), min_size=SKUS, max_size=SKUS))
        def receive(self, stock: list[int]) -> None:
            for sku, units in enumerate(stock):
                if units:
                    self.write(
                        lambda s, sku=sku, units=units: service.adjust_stock(
                            s,
                            self.tenant,
                            sku_id=self.skus[sku],
                            location_id=self.location_id,
                            delta=units,
                            reason="opening stock",
                            actor="system",
                        )
                    )
                    self.on_hand[sku] = units

        @rule(sku=SKU, delta=st.integers(-12, 12).filter(bool))
        def adjust(self, sku: int, delta: int) -> None:
            def op(session: Any) -> Any:
                return service.adjust_stock(
                    session,
                    self.tenant,
                    sku_id=self.skus[sku],
                    location_id=self.location_id,
                    delta=delta,
                    reason="model",
                    actor="system",
                )

            if delta < 0 and -delta > self.available(sku):
                try:
                    self.write(op)
                except InsufficientStock:
                    return
                raise AssertionError("removed more than was available")
            view = self.write(op)
            self.on_hand[sku] += delta
            assert (view.on_hand, view.available) == (self.on_hand[sku], self.available(sku))

        @rule(sku=SKU, counted=st.integers(0, 25))
        def count(self, sku: int, counted: int) -> None:
            def op(session: Any) -> Any:
                return service.set_stock(
                    session,
                    self.tenant,
                    sku_id=self.skus[sku],
                    location_id=self.location_id,
                    on_hand=counted,
                    reason="stocktake",
                    actor="system",
                )

            if counted < self.held(sku):
                try:
                    self.write(op)
                except BelowHeld:
                    return
                raise AssertionError("counted below the held units")
            self.write(op)
            self.on_hand[sku] = counted

        @rule(target=holds, sku=SKU, ask=QUANTITY, ttl=TTLS)
        def hold(self, sku: int, ask: int | str, ttl: int) -> Any:
            # "all" and "all+1" aim at the edge, where a miscounted unit shows.
            free = self.available(sku)
            quantity = free if ask == "all" else free + 1 if ask == "all+1" else int(ask)
            if quantity < 1:
                return multiple()

            def op(session: Any) -> Any:
                return service.place_hold(
                    session,
                    self.tenant,
                    sku_id=self.skus[sku],
                    location_id=self.location_id,
                    quantity=quantity,
                    ttl=timedelta(seconds=ttl),
                    reason="order",
                    reference="",
                    actor="system",
                )

            if quantity > self.available(sku):
                try:
                    self.write(op)
                except InsufficientStock:
                    return multiple()
                raise AssertionError("held more than was available")
            placed = self.write(op)
            self.model_holds[placed.id] = ModelHold(
                sku, quantity, self.clock.now() + timedelta(seconds=ttl)
            )
            return placed.id

        def _end(self, hold_id: int, action: str) -> None:
            h = self.model_holds[hold_id]
            end = service.consume_hold if action == "consumed" else service.release_hold

            def op(session: Any) -> Any:
                return end(session, self.tenant, hold_id, actor="system")

            if h.effective(self.clock.now()) != "active":
                try:
                    self.write(op)
                except IllegalTransition:
                    return
                raise AssertionError(f"a {h.effective(self.clock.now())} hold became {action}")
            assert self.write(op).status == action
            h.status = action
            if action == "consumed":
                self.on_hand[h.sku] -= h.quantity

        @rule(hold_id=holds)
        def release(self, hold_id: int) -> None:
            self._end(hold_id, "released")

        @rule(hold_id=holds)
        def consume(self, hold_id: int) -> None:
            self._end(hold_id, "consumed")

        @rule(hold_id=holds, ttl=TTLS)
        def extend(self, hold_id: int, ttl: int) -> None:
            h = self.model_holds[hold_id]

            def op(session: Any) -> Any:
                return service.extend_hold(
                    session, self.tenant, hold_id, ttl=timedelta(seconds=ttl), actor="system"
                )

            if h.effective(self.clock.now()) != "active":
                try:
                    self.write(op)
                except IllegalTransition:
                    return
                raise AssertionError("extended a hold that was not active")
            self.write(op)
            h.expires_at = self.clock.now() + timedelta(seconds=ttl)

        @rule(seconds=TICKS)
        def tick(self, seconds: int) -> None:
            self.clock.advance(seconds=seconds)

        @rule()
        def sweep(self) -> None:
            now = self.clock.now()
            due = sum(1 for h in self.model_holds.values() if h.effective(now) != h.status)
            swept = self.write(lambda s: service.lapse_expired(s, self.tenant, now))
            # Writes to a level record its lapses too, so the sweep finds at most these.
            assert 0 <= swept <= due
            for h in self.model_holds.values():
                h.status = h.effective(now)

        # What must hold after every step

        @invariant()
        def matches_the_model(self) -> None:
            self.run(self._check())

        async def _check(self) -> None:
            # One session for the whole check: it runs after every step (1,100 times a run).
            now = self.clock.now()
            async with UnitOfWork(self.state.read_factory) as uow:
                for i, sku_id in enumerate(self.skus):
                    view = await repository.availability(
                        uow.session, self.tenant, sku_id=sku_id, location_id=self.location_id
                    )
                    assert (view.on_hand, view.held) == (self.on_hand[i], self.held(i))
                    assert view.available >= 0
                rows = (
                    await uow.session.execute(
                        select(Hold.id, Hold.status, Hold.expires_at).where(
                            Hold.merchant_id == self.tenant.id
                        )
                    )
                ).all()
                levels = (await uow.session.execute(self._levels())).all()
            for hold_id, status, expires_at in rows:
                h = self.model_holds[hold_id]
                assert expires_at == h.expires_at
                effective = "lapsed" if status == "active" and expires_at <= now else status
                assert effective == h.effective(now), (hold_id, status, h)
            # Every level as stored, beside its ledger sums and its active holds.
            for on_hand, held, ledger_on_hand, ledger_held, active_hold_units in levels:
                assert 0 <= held <= on_hand
                assert (ledger_on_hand, ledger_held) == (on_hand, held)
                assert active_hold_units == held

        def _levels(self) -> Any:
            of_level = StockMovement.stock_level_id == StockLevel.id
            return select(
                StockLevel.on_hand,
                StockLevel.held,
                select(func.coalesce(func.sum(StockMovement.delta_on_hand), 0))
                .where(of_level)
                .scalar_subquery(),
                select(func.coalesce(func.sum(StockMovement.delta_held), 0))
                .where(of_level)
                .scalar_subquery(),
                select(func.coalesce(func.sum(Hold.quantity), 0))
                .where(Hold.stock_level_id == StockLevel.id, Hold.status == "active")
                .scalar_subquery(),
            ).where(StockLevel.merchant_id == self.tenant.id, StockLevel.sku_id.in_(self.skus))

    return StockMachine


def test_random_operation_sequences_keep_stock_true(
    db_url: str, backend: str, tmp_path: Path
) -> None:
    machine = machine_for(db_url, tmp_path)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=40 if backend == "sqlite" else 12,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
