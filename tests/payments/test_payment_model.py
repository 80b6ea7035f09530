"""Random sequences of payment reports, cancellations, staff refunds and refund
confirmations for one order (several attempts, any order, duplicates, wrong amounts) keep
the books true, on both backends: the order is paid at most once and by one payment, money
no order took is refunded in full, refunds never exceed what was paid and add up on the
payment and on the order."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict
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
from sqlalchemy import func, select

from loopmall.config import Settings
from loopmall.core.errors import LoopmallError
from loopmall.core.models import OutboxEvent
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.integrations.payment_provider import PayMethod
from loopmall.orders import service as orders
from loopmall.orders.models import Order
from loopmall.payments import accounts, refunds, sandbox, service, settle
from loopmall.payments.models import Payment, PaymentAccount, PaymentRefund
from loopmall.payments.rules import PAID_STATES
from loopmall.standins.keys import new_alipay_app, new_wechatpay_merchant
from tests.factories import make_merchant

TOTAL = 50_00
METHODS = st.sampled_from([PayMethod.SANDBOX, PayMethod.WECHAT_NATIVE, PayMethod.ALIPAY_QR])


def machine_for(db_url: str, data_dir: Path) -> type[RuleBasedStateMachine]:
    class PaymentMachine(RuleBasedStateMachine):
        attempts = Bundle("attempts")
        asked = Bundle("refunds")

        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.state = AppState.build(
                Settings(env="test", database_url=db_url, data_dir=data_dir)
            )
            self.run(self._setup())

        async def _setup(self) -> None:
            self.tenant = await make_merchant(self.state, f"m{uuid.uuid4().hex[:10]}")
            async with UnitOfWork(self.state.write_factory) as uow:
                s = uow.session
                wx = new_wechatpay_merchant(slot="model")
                ali = new_alipay_app(slot="model")
                await accounts.configure_account(s, self.tenant, "wechatpay", asdict(wx.config))
                await accounts.configure_account(s, self.tenant, "alipay", asdict(ali.config))
                await accounts.configure_account(
                    s, self.tenant, "sandbox", sandbox.new_credentials()
                )
                made = await orders.create_face_to_face_order(
                    s,
                    self.tenant,
                    amount_fen=TOTAL,
                    store_id=None,
                    guide_staff_id=None,
                    customer_id=None,
                    note="",
                )
                await uow.commit()
            self.order_id, self.order_public_id = made.id, made.public_id
            self.reported: set[int] = set()  # payments a provider reported paid (right amount)

        def run(self, coro: Any) -> Any:
            return self.loop.run_until_complete(coro)

        def write(self, op: Any) -> Any:
            async def go() -> Any:
                async with UnitOfWork(self.state.write_factory) as uow:
                    try:
                        result = await op(uow.session)
                    except LoopmallError:
                        return None
                    await uow.commit()
                    return result

            return self.run(go())

        def teardown(self) -> None:
            self.run(self.state.close())
            self.loop.close()

        @initialize(target=attempts, method=METHODS)
        def first_attempt(self, method: PayMethod) -> int:
            return self.open(method)

        @rule(target=attempts, method=METHODS)
        def another_attempt(self, method: PayMethod) -> int:
            return self.open(method)

        def open(self, method: PayMethod) -> int:
            async def op(s: Any) -> int:
                attempt = await service.open_attempt(
                    s,
                    self.tenant,
                    order_public_id=self.order_public_id,
                    method=method,
                    customer_id=None,
                )
                return attempt.payment.id

            made = self.write(op)
            return made if made is not None else self.any_payment()

        def any_payment(self) -> int:
            async def first() -> int:
                async with UnitOfWork(self.state.read_factory) as uow:
                    found = await uow.session.scalar(
                        select(func.min(Payment.id)).where(Payment.merchant_id == self.tenant.id)
                    )
                    return int(found)

            return int(self.run(first()))

        @rule(payment_id=attempts, right_amount=st.booleans())
        def provider_reports_paid(self, payment_id: int, right_amount: bool) -> None:
            async def op(s: Any) -> None:
                payment = await s.get(Payment, payment_id)
                await settle.apply_paid(
                    s,
                    self.tenant,
                    out_trade_no=payment.out_trade_no,
                    amount_fen=TOTAL if right_amount else TOTAL - 1,
                    provider_trade_no="T",
                    paid_at=None,
                    account=await s.get_one(PaymentAccount, payment.account_id),
                )

            self.write(op)
            if right_amount:
                self.reported.add(payment_id)

        @rule()
        def order_cancelled(self) -> None:
            self.write(
                lambda s: orders.cancel_order(
                    s, self.tenant, self.order_id, actor="system", reason="t"
                )
            )

        @rule(target=asked, amount=st.sampled_from([1, 10_00, 25_00, TOTAL]))
        def staff_refund(self, amount: int) -> int:
            async def op(s: Any) -> int:
                refund, _payment = await refunds.refund_order(
                    s, self.tenant, self.order_public_id, amount_fen=amount, reason="t", actor="t"
                )
                return refund.id

            made = self.write(op)
            return made if made is not None else -1

        @rule(refund_id=asked, succeeded=st.booleans())
        def provider_confirms_refund(self, refund_id: int, succeeded: bool) -> None:
            async def op(s: Any) -> None:
                refund = await s.get(PaymentRefund, refund_id)
                if refund is not None:
                    await settle.finish_refund(s, self.tenant, refund, succeeded=succeeded)

            if refund_id > 0:
                self.write(op)

        @rule()
        def automatic_refunds_confirmed(self) -> None:
            async def op(s: Any) -> None:
                rows = await s.scalars(
                    select(PaymentRefund).where(
                        PaymentRefund.merchant_id == self.tenant.id,
                        PaymentRefund.automatic.is_(True),
                        PaymentRefund.state == "requested",
                    )
                )
                for refund in rows.all():
                    await settle.finish_refund(s, self.tenant, refund, succeeded=True)

            self.write(op)

        @invariant()
        def books_are_true(self) -> None:
            self.run(self.check())

        async def check(self) -> None:
            async with UnitOfWork(self.state.read_factory) as uow:
                s = uow.session
                order = await s.get(Order, self.order_id)
                pays = list(
                    (
                        await s.scalars(
                            select(Payment).where(Payment.merchant_id == self.tenant.id)
                        )
                    ).all()
                )
                rfs = list(
                    (
                        await s.scalars(
                            select(PaymentRefund).where(PaymentRefund.merchant_id == self.tenant.id)
                        )
                    ).all()
                )
                paid_events = await s.scalar(
                    select(func.count())
                    .select_from(OutboxEvent)
                    .where(
                        OutboxEvent.topic == "order.paid", OutboxEvent.merchant_id == self.tenant.id
                    )
                )
            assert order is not None
            assert paid_events in (0, 1)
            assert order.paid_fen in (0, TOTAL)
            took = [p for p in pays if p.id == order.payment_id]
            assert len(took) == (1 if order.paid_fen else 0)
            # No payment the provider reported is lost.
            assert {p.id for p in pays if p.state in PAID_STATES} == self.reported
            for p in pays:
                mine = [r for r in rfs if r.payment_id == p.id]
                done = sum(r.amount_fen for r in mine if r.state == "succeeded")
                assert p.refunded_fen == done <= p.amount_fen
                if p.state in PAID_STATES and p.id != order.payment_id:
                    # Money the order never took goes back in full, automatically.
                    assert [(r.automatic, r.amount_fen) for r in mine] == [(True, p.amount_fen)]
            staff_done = sum(
                r.amount_fen for r in rfs if r.state == "succeeded" and not r.automatic
            )
            assert order.refunded_fen == staff_done <= order.paid_fen

    return PaymentMachine


def test_random_payment_histories_keep_the_books_true(
    db_url: str, backend: str, tmp_path: Path
) -> None:
    run_state_machine_as_test(
        machine_for(db_url, tmp_path),
        settings=settings(
            max_examples=8 if backend == "sqlite" else 4,
            stateful_step_count=16,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
