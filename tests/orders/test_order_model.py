"""Random sequences of order steps — checkout (delivery or pickup, online or cash on
delivery), payment, ship, ready, complete, cancel, refund requests, refunds, declines,
time passing with the unpaid sweep — through the real services on both backends, checked
after every step against a model built on ``rules.MOVES``: what is allowed happens, what
is not is refused with a stable code, and stock always matches the orders."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.errors import LoopmallError
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import sandbox_login
from loopmall.merchants.mall import update_mall_settings
from loopmall.orders import cart, checkout, fulfilment, service
from loopmall.orders.jobs import sweep_unpaid
from loopmall.orders.models import Order
from loopmall.orders.rules import (
    REFUNDABLE,
    IllegalOrderTransition,
    OrderStatus,
    RefundExceedsPaid,
    allowed,
)
from tests.inventory.fixtures import level_state
from tests.orders.fixtures import ADDRESS, BASE_PRICE, STORE_PRICE, make_shop, stock

S = OrderStatus
UNITS = 12
TTL = 1800


@dataclass
class ModelOrder:
    """What the order should be: the fields the rules look at, money, and its units."""

    id: int
    kind: str
    fulfilment: str
    payment_method: str
    quantity: int
    total: int
    status: str = "created"
    refund_from: str | None = None
    paid: int = 0
    refunded: int = 0
    sold: bool = False

    @property
    def at_store(self) -> bool:
        return self.fulfilment == "pickup"

    @property
    def holding(self) -> bool:
        return self.status == "created"


def machine_for(db_url: str, data_dir: Path) -> type[RuleBasedStateMachine]:
    class OrderMachine(RuleBasedStateMachine):
        orders = Bundle("orders")

        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.clock = clock.FrozenClock()
            self.previous_clock = clock.install(self.clock)
            self.state = AppState.build(
                Settings(
                    env="test",
                    database_url=db_url,
                    data_dir=data_dir,
                    unpaid_order_ttl_seconds=TTL,
                )
            )
            self.model: dict[int, ModelOrder] = {}
            self.refund_ids = 0
            self.run(self._setup())

        async def _setup(self) -> None:
            slug = f"m{uuid.uuid4().hex[:10]}"
            self.shop = await make_shop(
                self.state, slug, online_units=UNITS, store_units=UNITS, sku_count=1
            )
            async with UnitOfWork(self.state.write_factory) as uow:
                await update_mall_settings(uow.session, self.shop.tenant, cod_enabled=True)
                customer, _token = await sandbox_login(uow.session, self.shop.tenant, name="x")
                self.customer_id = customer.id
                await uow.commit()

        def run(self, coro: Any) -> Any:
            return self.loop.run_until_complete(coro)

        def write(self, op: Any) -> Any:
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

        def attempt(self, m: ModelOrder, target: S, op: Any) -> bool:
            """Run ``op``; it must succeed exactly when the model allows ``target``."""
            goods_step = target in (S.SHIPPED, S.READY_FOR_PICKUP, S.COMPLETED)
            expect = allowed(m, S(m.status), target) and not (
                goods_step and m.status == S.REFUND_REQUESTED
            )
            try:
                self.write(op)
            except IllegalOrderTransition as exc:
                assert not expect, (m, target, exc.detail)
                return False
            assert expect, (m, target)
            return True

        @initialize()
        def start(self) -> None:
            pass

        @rule(
            target=orders,
            fulfilment=st.sampled_from(["delivery", "pickup"]),
            method=st.sampled_from(["online", "online", "cod"]),
            quantity=st.integers(1, 5),
        )
        def place(self, fulfilment: str, method: str, quantity: int) -> int:
            tenant, sku = self.shop.tenant, self.shop.skus[0]
            store = self.shop.store if fulfilment == "pickup" else None
            location = self.shop.store_location_id if store else self.shop.warehouse_id
            free = UNITS - sum(
                o.quantity
                for o in self.model.values()
                if o.at_store == bool(store) and (o.holding or o.sold)
            )

            async def op(session: Any) -> Order:
                await cart.clear_lines(session, tenant, self.customer_id)
                await cart.add_to_cart(session, tenant, self.customer_id, sku.public_id, quantity)
                return await checkout.checkout(
                    session,
                    tenant,
                    customer_id=self.customer_id,
                    request=checkout.CheckoutRequest(
                        fulfilment=fulfilment,
                        payment_method=method,
                        address=checkout.Address(**ADDRESS) if not store else None,
                        store_public_id=store.public_id if store else None,
                    ),
                    unpaid_ttl_seconds=TTL,
                )

            try:
                order = self.write(op)
            except LoopmallError as exc:
                assert quantity > free, (exc.code, quantity, free, location)
                return -1
            assert quantity <= free
            price = STORE_PRICE if store else BASE_PRICE
            assert order.total_fen == quantity * price
            self.model[order.id] = ModelOrder(
                order.id, "mall", fulfilment, method, quantity, quantity * price
            )
            return order.id

        def _m(self, order_id: int) -> ModelOrder | None:
            return self.model.get(order_id)

        @rule(order_id=orders)
        def pay(self, order_id: int) -> None:
            m = self._m(order_id)
            if m is None:
                return
            result = self.write(
                lambda s: service.mark_paid(
                    s,
                    self.shop.tenant,
                    m.id,
                    amount_fen=m.total,
                    payment_id=1,
                    paid_at=clock.now(),
                )
            )
            if m.status in ("cancelled", "refunded"):
                assert result is service.MarkPaid.CANCELLED
            elif m.status != "created":
                assert result is service.MarkPaid.ALREADY_PAID
            elif m.payment_method == "cod":
                assert result is service.MarkPaid.AMOUNT_MISMATCH
            else:
                assert result is service.MarkPaid.PAID
                m.status, m.paid, m.sold = "paid", m.total, True

        @rule(order_id=orders, step=st.sampled_from(["ship", "ready", "complete", "cancel"]))
        def staff_step(self, order_id: int, step: str) -> None:
            m = self._m(order_id)
            if m is None:
                return
            target = {
                "ship": S.SHIPPED,
                "ready": S.READY_FOR_PICKUP,
                "complete": S.COMPLETED,
                "cancel": S.CANCELLED,
            }[step]
            ok = self.attempt(
                m,
                target,
                lambda s: fulfilment.staff_action(
                    s, self.shop.tenant, m.id, step, actor="stf_test", store_ids=None
                ),
            )
            if ok:
                if m.status == "created" and target is not S.CANCELLED:
                    m.sold = True  # cash on delivery: the goods leave now
                if target is S.COMPLETED and m.payment_method == "cod":
                    m.paid = m.total
                m.status = target.value

        @rule(order_id=orders)
        def ask_refund(self, order_id: int) -> None:
            m = self._m(order_id)
            if m is None:
                return
            ok = self.attempt(
                m,
                S.REFUND_REQUESTED,
                lambda s: fulfilment.request_refund(
                    s, self.shop.tenant, m.id, customer_id=self.customer_id, reason="r"
                ),
            )
            if ok:
                m.refund_from, m.status = m.status, "refund_requested"

        @rule(order_id=orders)
        def decline(self, order_id: int) -> None:
            m = self._m(order_id)
            if m is None:
                return
            try:
                self.write(
                    lambda s: fulfilment.decline_refund(s, self.shop.tenant, m.id, actor="stf")
                )
            except IllegalOrderTransition:
                assert m.status != "refund_requested", m
                return
            assert m.status == "refund_requested" and m.refund_from, m
            m.status, m.refund_from = m.refund_from, None

        @rule(order_id=orders, part=st.sampled_from(["some", "rest", "too_much"]))
        def refund(self, order_id: int, part: str) -> None:
            m = self._m(order_id)
            if m is None:
                return
            left = m.paid - m.refunded
            amount = {"some": max(left // 3, 1), "rest": max(left, 1), "too_much": left + 1}[part]
            self.refund_ids += 1
            rid = self.refund_ids
            try:
                self.write(
                    lambda s: service.record_refund(
                        s, self.shop.tenant, m.id, refund_fen=amount, refund_id=rid
                    )
                )
            except IllegalOrderTransition:
                assert m.status not in REFUNDABLE or m.payment_method == "cod", m
                return
            except RefundExceedsPaid:
                assert amount > left, (m, amount)
                return
            assert m.status in REFUNDABLE and m.payment_method == "online" and amount <= left
            m.refunded += amount
            if m.refunded == m.paid:
                m.status, m.refund_from = "refunded", None
            elif m.status == "refund_requested":
                m.status, m.refund_from = m.refund_from or "paid", None

        @rule()
        def time_passes(self) -> None:
            self.clock.advance(seconds=TTL + 1)
            self.run(sweep_unpaid(self.state))
            for m in self.model.values():
                if m.status == "created" and m.payment_method == "online":
                    m.status = "cancelled"

        @invariant()
        def orders_and_stock_match_the_model(self) -> None:
            self.run(self._check())

        async def _check(self) -> None:
            async with UnitOfWork(self.state.read_factory) as uow:
                rows = await uow.session.execute(
                    select(Order.id, Order.status, Order.paid_fen, Order.refunded_fen).where(
                        Order.merchant_id == self.shop.tenant.id
                    )
                )
                found = {r[0]: tuple(r[1:]) for r in rows.all()}
            assert found == {m.id: (m.status, m.paid, m.refunded) for m in self.model.values()}
            sku = self.shop.skus[0]
            for at_store, location in (
                (False, self.shop.warehouse_id),
                (True, self.shop.store_location_id),
            ):
                mine = [m for m in self.model.values() if m.at_store == at_store]
                sold = sum(m.quantity for m in mine if m.sold)
                held = sum(m.quantity for m in mine if m.holding)
                assert await stock(self.state, sku.id, location) == (UNITS - sold, held), (
                    at_store,
                    self.model,
                )
            for lv in await level_state(self.state, self.shop.tenant, sku.id):
                assert (lv.ledger_on_hand, lv.ledger_held) == (lv.on_hand, lv.held)
                assert lv.active_hold_units == lv.held

    return OrderMachine


def test_random_order_steps_follow_the_table_and_keep_stock_true(
    db_url: str, backend: str, tmp_path: Path
) -> None:
    run_state_machine_as_test(
        machine_for(db_url, tmp_path),
        settings=settings(
            max_examples=20 if backend == "sqlite" else 8,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
