"""What a payment or refund report from a provider does to our records.

Every report — a verified callback, a query answer, the reconciliation — goes through
:func:`apply_paid` or :func:`apply_refund_report`, under a lock on the payment row (on
PostgreSQL ``FOR UPDATE``; on SQLite the write transaction's ``BEGIN IMMEDIATE``), so ten
concurrent copies of one callback serialise: the first applies it, the rest find it done.
The order is told through ``orders.service.mark_paid`` / ``record_refund`` only.
Money a provider took that no order wants (the order was cancelled, or paid by another
attempt) is refunded automatically: the refund is recorded here and sent by the outbox.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.money import format_yuan
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant, scoped
from loopmall.orders import service as orders
from loopmall.payments.events import PaymentSucceeded, RefundRequested
from loopmall.payments.models import Payment, PaymentAccount, PaymentRefund
from loopmall.payments.rules import (
    PAID_STATES,
    Outcome,
    PaymentState,
    RefundNotAllowed,
    RefundState,
    check_move,
    check_refund_move,
    new_trade_no,
)


def _made_through(account: PaymentAccount) -> tuple[ColumnElement[bool], ...]:
    """An attempt is settled only by reports of the provider and account it was made
    through: a trade number is no secret (it is on the payer's receipt), and one provider's
    validly signed report must never settle another's attempt (issue #11, case 9)."""
    return (Payment.account_id == account.id, Payment.provider == account.provider)


async def _trade_exists(session: AsyncSession, tenant: Tenant, out_trade_no: str) -> bool:
    found = await session.scalar(
        select(Payment.id).where(
            Payment.merchant_id == tenant.id, Payment.out_trade_no == out_trade_no
        )
    )
    return found is not None


async def find_refund(
    session: AsyncSession, tenant: Tenant, account: PaymentAccount, out_refund_no: str
) -> tuple[Outcome | None, PaymentRefund | None]:
    """The refund ``out_refund_no`` names if its payment was made through ``account``
    (unlocked: ``finish_refund`` locks the payment, then the refund). Otherwise
    ``FOREIGN_REFUND`` (it is another provider's or account's) or ``UNKNOWN_REFUND``."""
    if not out_refund_no:
        return Outcome.UNKNOWN_REFUND, None
    refund: PaymentRefund | None = await session.scalar(
        scoped(PaymentRefund, tenant, PaymentRefund.out_refund_no == out_refund_no)
        .join(Payment, Payment.id == PaymentRefund.payment_id)
        .where(*_made_through(account))
    )
    if refund is not None:
        return None, refund
    anyone = await session.scalar(
        select(PaymentRefund.id).where(
            PaymentRefund.merchant_id == tenant.id, PaymentRefund.out_refund_no == out_refund_no
        )
    )
    return (Outcome.FOREIGN_REFUND if anyone is not None else Outcome.UNKNOWN_REFUND), None


async def lock_payment(session: AsyncSession, tenant: Tenant, *criteria: object) -> Payment | None:
    payment: Payment | None = await session.scalar(
        scoped(Payment, tenant, *criteria)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return payment


async def apply_paid(
    session: AsyncSession,
    tenant: Tenant,
    *,
    out_trade_no: str,
    amount_fen: int | None,
    provider_trade_no: str | None,
    paid_at: datetime | None,
    account: PaymentAccount,
    payer_ref: str | None = None,
) -> tuple[Outcome, Payment | None]:
    """``account`` (whose keys verified the report) says ``out_trade_no`` was paid
    ``amount_fen``: apply it once.

    Only an attempt made through ``account`` (and its provider) is settled: a trade number
    of another provider's or account's attempt → ``FOREIGN_TRADE``, nothing changes.
    Unknown trade → ``UNKNOWN_TRADE`` (the start may not have committed yet: the caller
    makes the provider retry). Already applied → ``DUPLICATE``. An amount other than
    ours → ``AMOUNT_MISMATCH`` (kept on the payment, never applied). Otherwise the payment
    succeeds and the order is told; if the order no longer wants the money the payment is
    refunded in full (``REFUNDED_*``).
    """
    payment = await lock_payment(
        session, tenant, Payment.out_trade_no == out_trade_no, *_made_through(account)
    )
    if payment is None:
        if await _trade_exists(session, tenant, out_trade_no):
            return Outcome.FOREIGN_TRADE, None
        return Outcome.UNKNOWN_TRADE, None
    if payment.state in PAID_STATES:
        return Outcome.DUPLICATE, payment
    now = clock.now()
    if amount_fen != payment.amount_fen:
        payment.anomaly = f"provider reported {amount_fen} fen paid, expected {payment.amount_fen}"
        payment.updated_at = now
        await session.flush()
        return Outcome.AMOUNT_MISMATCH, payment
    check_move(payment.state, PaymentState.SUCCEEDED)
    payment.state = PaymentState.SUCCEEDED.value
    payment.paid_at = paid_at or now
    payment.provider_trade_no = provider_trade_no or payment.provider_trade_no
    payment.payer_ref = payer_ref or payment.payer_ref
    payment.updated_at = now
    await session.flush()
    result = await orders.mark_paid(
        session,
        tenant,
        payment.order_id,
        amount_fen=payment.amount_fen,
        payment_id=payment.id,
        paid_at=payment.paid_at,
    )
    if result == orders.MarkPaid.PAID:
        await publish(
            session,
            PaymentSucceeded(
                merchant_id=tenant.id,
                payment_id=payment.id,
                order_id=payment.order_id,
                amount_fen=payment.amount_fen,
                provider=payment.provider,
            ),
        )
        return Outcome.PAID, payment
    outcome, reason = {
        orders.MarkPaid.CANCELLED: (Outcome.REFUNDED_CANCELLED, "order_cancelled"),
        orders.MarkPaid.ALREADY_PAID: (Outcome.REFUNDED_DOUBLE, "paid_twice"),
        orders.MarkPaid.AMOUNT_MISMATCH: (Outcome.REFUNDED_MISMATCH, "order_total_changed"),
    }[orders.MarkPaid(result)]
    await request_refund(
        session,
        tenant,
        payment,
        amount_fen=payment.amount_fen,
        reason=reason,
        actor="system",
        automatic=True,
    )
    return outcome, payment


async def request_refund(
    session: AsyncSession,
    tenant: Tenant,
    payment: Payment,
    *,
    amount_fen: int,
    reason: str,
    actor: str,
    automatic: bool = False,
) -> PaymentRefund:
    """Record a refund of ``amount_fen`` from a paid ``payment`` (already locked by the
    caller) and hand it to the outbox, which asks the provider. Raises 409
    ``refund_not_allowed`` for an unpaid payment or more than is left to refund (counting
    refunds still in flight)."""
    if payment.state not in PAID_STATES:
        raise RefundNotAllowed("Only a paid payment can be refunded")
    in_flight = await session.scalar(
        select(func.coalesce(func.sum(PaymentRefund.amount_fen), 0)).where(
            PaymentRefund.payment_id == payment.id,
            PaymentRefund.state.in_([RefundState.REQUESTED.value, RefundState.PROCESSING.value]),
        )
    )
    left = payment.amount_fen - payment.refunded_fen - int(in_flight or 0)
    if amount_fen <= 0 or amount_fen > left:
        raise RefundNotAllowed(
            f"{left} fen can still be refunded",
            refundable_fen=left,
            refundable_yuan=format_yuan(left),
            field="amount_fen",
        )
    now = clock.now()
    refund = PaymentRefund(
        merchant_id=tenant.id,
        public_id=new_public_id("rfd"),
        payment_id=payment.id,
        order_id=payment.order_id,
        out_refund_no=new_trade_no("R"),
        amount_fen=amount_fen,
        reason=reason[:80],
        automatic=automatic,
        actor=actor[:60],
        state=RefundState.REQUESTED.value,
        created_at=now,
        updated_at=now,
    )
    session.add(refund)
    await session.flush()
    await publish(
        session, RefundRequested(merchant_id=tenant.id, refund_id=refund.id, payment_id=payment.id)
    )
    return refund


async def lock_refund(
    session: AsyncSession, tenant: Tenant, *criteria: object
) -> PaymentRefund | None:
    refund: PaymentRefund | None = await session.scalar(
        scoped(PaymentRefund, tenant, *criteria)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return refund


async def finish_refund(
    session: AsyncSession,
    tenant: Tenant,
    refund: PaymentRefund,
    *,
    succeeded: bool,
    provider_refund_no: str | None = None,
    error: str = "",
) -> Outcome:
    """The provider says the refund succeeded or failed: apply it once. The payment (locked
    first, always before its refund) and the order learn of a success."""
    payment = await lock_payment(session, tenant, Payment.id == refund.payment_id)
    refund = await lock_refund(session, tenant, PaymentRefund.id == refund.id) or refund
    done = RefundState.SUCCEEDED.value if succeeded else RefundState.FAILED.value
    if refund.state in (RefundState.SUCCEEDED.value, RefundState.FAILED.value):
        return Outcome.REFUND_DUPLICATE
    now = clock.now()
    check_refund_move(refund.state, RefundState(done))
    refund.state = done
    refund.provider_refund_no = provider_refund_no or refund.provider_refund_no
    refund.error = error[:255]
    refund.updated_at = now
    if not succeeded:
        await session.flush()
        return Outcome.REFUND_FAILED
    assert payment is not None
    refund.succeeded_at = now
    payment.refunded_fen += refund.amount_fen
    target = (
        PaymentState.REFUNDED
        if payment.refunded_fen >= payment.amount_fen
        else PaymentState.PARTIALLY_REFUNDED
    )
    check_move(payment.state, target)
    payment.state = target.value
    payment.updated_at = now
    await session.flush()
    # An automatic refund returns money the order never took (it was cancelled, or paid
    # by another attempt): the order has nothing to record.
    if not refund.automatic:
        await orders.record_refund(
            session, tenant, payment.order_id, refund_fen=refund.amount_fen, refund_id=refund.id
        )
    return Outcome.REFUND_SUCCEEDED
