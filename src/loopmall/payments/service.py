"""Payment attempts: opening one for an order, recording what the provider answered, reads.

Starting a payment is two short transactions around the provider call (``flows``): the
attempt is committed first (state ``created``) so that a callback can always find it,
then the provider's answer is recorded. No database lock is held while the provider is
on the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.integrations.payment_provider import PayMethod, PayStart
from loopmall.orders import service as orders
from loopmall.payments.accounts import PROVIDER_OF, account_clause
from loopmall.payments.models import Payment, PaymentAccount, PaymentRefund
from loopmall.payments.rules import (
    OPEN_STATES,
    NoPaymentAccount,
    OrderNotPayable,
    PaymentState,
    check_move,
    new_trade_no,
)

# An open attempt for the same way of paying is shown again rather than started anew
# (a reload of the pay page must not create a trade each time), for this long.
REUSE_FOR = timedelta(minutes=10)
# The longest a provider trade stays open when the order itself does not lapse.
DEFAULT_TRADE_TTL = timedelta(hours=2)


@dataclass(frozen=True)
class Attempt:
    """An attempt opened for an order, and whether the provider must still be asked."""

    payment: Payment
    account: PaymentAccount
    order: orders.PayableOrder
    fresh: bool


def check_owner(order: orders.PayableOrder, customer_id: int | None) -> None:
    """A shopper may pay their own orders; an order without a customer (a face-to-face
    payment by someone not logged in) is paid by whoever holds its unguessable id."""
    if order.customer_id is not None and order.customer_id != customer_id:
        raise NotFound("No such order")


async def open_attempt(
    session: AsyncSession,
    tenant: Tenant,
    *,
    order_public_id: str,
    method: PayMethod,
    customer_id: int | None,
) -> Attempt:
    """The attempt to show for paying ``order_public_id`` with ``method``: a recent open
    one for the same method, or a new ``created`` one. Raises 404 for another customer's
    order or a missing account, 409 ``order_not_payable`` for an order that is not
    waiting for payment."""
    order = await orders.get_payable_by_public_id(session, tenant, order_public_id)
    check_owner(order, customer_id)
    if order.status != "created" or order.paid_fen > 0:
        raise OrderNotPayable(status=order.status)
    now = clock.now()
    account, recent = await _account_and_recent(session, tenant, order, method, now)
    if recent is not None and recent.start:
        return Attempt(recent, account, order, fresh=False)
    expires = order.expires_at or now + DEFAULT_TRADE_TTL
    payment = Payment(
        merchant_id=tenant.id,
        public_id=new_public_id("pay"),
        account_id=account.id,
        provider=account.provider,
        method=method.value,
        order_id=order.id,
        order_kind=order.kind,
        store_id=order.store_id,
        out_trade_no=new_trade_no("LM"),
        amount_fen=order.total_fen,
        refunded_fen=0,
        state=PaymentState.CREATED.value,
        start={},
        created_at=now,
        updated_at=now,
        expires_at=max(expires, now + timedelta(minutes=1)),
    )
    session.add(payment)
    await session.flush()
    return Attempt(payment, account, order, fresh=True)


async def _account_and_recent(
    session: AsyncSession,
    tenant: Tenant,
    order: orders.PayableOrder,
    method: PayMethod,
    now: datetime,
) -> tuple[PaymentAccount, Payment | None]:
    """The active account that takes ``method`` (404 ``payment_account_missing`` if none)
    and the order's newest open attempt through it for the same method and amount, started
    within ``REUSE_FOR``: one statement (the attempt joined to the account, if any)."""
    # The attempt table appears twice (the attempt joined, the newest one picked): the
    # inner one is an alias, correlated to the account only.
    attempt = aliased(Payment)
    recent = (
        select(attempt.id)
        .where(
            attempt.merchant_id == tenant.id,
            attempt.order_id == order.id,
            attempt.method == method.value,
            attempt.account_id == PaymentAccount.id,
            attempt.amount_fen == order.total_fen,
            attempt.state.in_([s.value for s in OPEN_STATES]),
            attempt.created_at > now - REUSE_FOR,
        )
        .order_by(attempt.id.desc())
        .limit(1)
        .correlate(PaymentAccount)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(PaymentAccount, Payment)
            .outerjoin(Payment, Payment.id == recent)
            .where(*account_clause(tenant, method))
        )
    ).first()
    if row is None:
        raise NoPaymentAccount(
            f"No active {PROVIDER_OF[method]} account",
            method=method.value,
            provider=PROVIDER_OF[method],
        )
    return row[0], row[1]


def start_payload(start: PayStart) -> dict[str, Any]:
    payload: dict[str, Any] = {"method": start.method.value}
    if start.qr_content:
        payload["qr_content"] = start.qr_content
    if start.redirect_url:
        payload["redirect_url"] = start.redirect_url
    if start.jsapi_params:
        payload["jsapi_params"] = dict(start.jsapi_params)
    return payload


async def record_started(
    session: AsyncSession, tenant: Tenant, payment_id: int, start: PayStart
) -> tuple[str, dict[str, Any]]:
    """The provider took the trade: keep what the pay page needs; ``created → pending``
    (a callback may already have made it ``succeeded``: that stays). Returns the state it
    is in and what the pay page needs. One conditional UPDATE: the row's lock is the
    statement's own, and the state it sets is decided on the row as it is then."""
    payload = start_payload(start)
    created, pending = PaymentState.CREATED, PaymentState.PENDING
    check_move(created.value, pending)  # the one move this statement may make
    state = await session.scalar(
        update(Payment)
        .where(Payment.merchant_id == tenant.id, Payment.id == payment_id)
        .values(
            start=payload,
            state=case((Payment.state == created.value, pending.value), else_=Payment.state),
            updated_at=clock.now(),
        )
        .returning(Payment.state),
        execution_options={"synchronize_session": False},
    )
    if state is None:
        raise NotFound("No such payment")
    return str(state), payload


async def record_start_failed(
    session: AsyncSession, tenant: Tenant, payment_id: int, error: str
) -> Payment:
    payment = await _locked(session, tenant, payment_id)
    if payment.state == PaymentState.CREATED.value:
        payment.state = PaymentState.FAILED.value
    payment.error = error[:255]
    payment.updated_at = clock.now()
    await session.flush()
    return payment


async def _locked(session: AsyncSession, tenant: Tenant, payment_id: int) -> Payment:
    payment: Payment | None = await session.scalar(
        scoped(Payment, tenant, Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if payment is None:
        raise NotFound("No such payment")
    return payment


async def get_payment(session: AsyncSession, tenant: Tenant, public_id: str) -> Payment:
    payment: Payment | None = await session.scalar(
        scoped(Payment, tenant, Payment.public_id == public_id)
    )
    if payment is None:
        raise NotFound("No such payment")
    return payment


async def get_payment_of(
    session: AsyncSession, tenant: Tenant, public_id: str, customer_id: int | None
) -> Payment:
    """The attempt, if its order is this customer's (or nobody's: an anonymous face-to-face
    payment); 404 otherwise."""
    payment = await get_payment(session, tenant, public_id)
    check_owner(await orders.get_payable(session, tenant, payment.order_id), customer_id)
    return payment


async def latest_for_order(session: AsyncSession, tenant: Tenant, order_id: int) -> Payment | None:
    """The order's most recent attempt (the one the pay page follows)."""
    payment: Payment | None = await session.scalar(
        scoped(Payment, tenant, Payment.order_id == order_id).order_by(Payment.id.desc()).limit(1)
    )
    return payment


async def payments_of_order(session: AsyncSession, tenant: Tenant, order_id: int) -> list[Payment]:
    rows = await session.scalars(
        scoped(Payment, tenant, Payment.order_id == order_id).order_by(Payment.id)
    )
    return list(rows.all())


async def refunds_of_order(
    session: AsyncSession, tenant: Tenant, order_id: int
) -> list[PaymentRefund]:
    rows = await session.scalars(
        scoped(PaymentRefund, tenant, PaymentRefund.order_id == order_id).order_by(PaymentRefund.id)
    )
    return list(rows.all())


async def due_for_query(
    session: AsyncSession, tenant: Tenant, payment: Payment, *, after: timedelta, every: timedelta
) -> bool:
    """Is an open attempt old enough (and not asked recently) to ask the provider about?"""
    now = clock.now()
    if payment.state not in (PaymentState.PENDING.value, PaymentState.CREATED.value):
        return False
    if now - payment.created_at < after:
        return False
    return payment.queried_at is None or now - payment.queried_at >= every


async def mark_queried(session: AsyncSession, tenant: Tenant, payment_id: int) -> None:
    payment = await _locked(session, tenant, payment_id)
    payment.queried_at = clock.now()
    await session.flush()


async def open_attempts_of_order(
    session: AsyncSession, tenant: Tenant, order_id: int
) -> list[Payment]:
    rows = await session.scalars(
        scoped(
            Payment,
            tenant,
            Payment.order_id == order_id,
            Payment.state.in_([s.value for s in OPEN_STATES]),
        ).order_by(Payment.id)
    )
    return list(rows.all())


async def mark_closed(session: AsyncSession, tenant: Tenant, payment_id: int) -> bool:
    """``created/pending → closed`` once the provider closed the trade; False if it has
    moved on meanwhile (paid)."""
    payment = await _locked(session, tenant, payment_id)
    if payment.state not in (PaymentState.CREATED.value, PaymentState.PENDING.value):
        return False
    check_move(payment.state, PaymentState.CLOSED)
    payment.state = PaymentState.CLOSED.value
    payment.closed_at = payment.updated_at = clock.now()
    await session.flush()
    return True


async def account_of(session: AsyncSession, tenant: Tenant, account_id: int) -> PaymentAccount:
    account: PaymentAccount | None = await session.scalar(
        scoped(PaymentAccount, tenant, PaymentAccount.id == account_id)
    )
    if account is None:
        raise NotFound("No such payment account")
    return account
