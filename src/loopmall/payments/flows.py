"""Work that talks to a provider: each is short transactions around the provider call.

* :func:`start_payment` — open an attempt (committed), ask the provider, record its answer.
* :func:`refresh_payment` — query-on-return: the pay page polls; an attempt still open
  after a while is queried at the provider and a "paid" answer applied like a callback.
* :func:`send_refund` — the outbox handler that asks the provider for a recorded refund.
* :func:`close_open_attempts` — the outbox handler of ``order.cancelled``.
* :func:`sandbox_pay` — the sandbox's "pay" button: a signed callback to our own route.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.integrations.payment_provider import (
    CallbackEvent,
    PayMethod,
    PayRequest,
    ProviderError,
    RefundRequest,
)
from loopmall.payments import accounts, callbacks, runtime, sandbox, service, settle
from loopmall.payments.models import Payment, PaymentRefund
from loopmall.payments.rules import Outcome, PaymentStartFailed, RefundState
from loopmall.payments.sandbox import SandboxProvider

log = logging.getLogger(__name__)

# Query-on-return: ask the provider about an attempt still open this long after it
# started, and not more often than every QUERY_EVERY per attempt.
QUERY_AFTER = timedelta(seconds=5)
QUERY_EVERY = timedelta(seconds=5)


def notify_url(settings: Settings, provider: str, account_public_id: str) -> str:
    base = settings.base_url.rstrip("/")
    return f"{base}/api/v1/payments/callbacks/{provider}/{account_public_id}"


@dataclass(frozen=True)
class Started:
    payment_public_id: str
    order_public_id: str
    method: str
    state: str
    amount_fen: int
    start: dict[str, Any]


async def start_payment(
    state: AppState,
    tenant: Tenant,
    *,
    order_public_id: str,
    method: PayMethod,
    customer_id: int | None,
    openid: str | None = None,
    client_ip: str | None = None,
) -> Started:
    """Start (or show again) a payment of the order with ``method``. Raises 404/409 as
    :func:`service.open_attempt`, 409 ``payment_start_failed`` when the provider refuses
    (the attempt is kept as ``failed`` with the provider's code), 403
    ``sandbox_payments_disabled`` for the sandbox while it is off (nothing is written)."""
    if method is PayMethod.SANDBOX:
        sandbox.require_enabled(state.settings)
    async with UnitOfWork(state.write_factory) as uow:
        attempt = await service.open_attempt(
            uow.session,
            tenant,
            order_public_id=order_public_id,
            method=method,
            customer_id=customer_id,
        )
        await uow.commit()
    payment, account = attempt.payment, attempt.account
    if not attempt.fresh:
        return _started(payment, order_public_id, payment.state, payment.start)
    provider = accounts.provider_for(account, state.settings)
    request = PayRequest(
        out_trade_no=payment.out_trade_no,
        amount_fen=payment.amount_fen,
        description=(attempt.order.description or attempt.order.number)[:127],
        notify_url=notify_url(state.settings, account.provider, account.public_id),
        method=method,
        expires_at=payment.expires_at,
        openid=openid,
        client_ip=client_ip,
        attach=attempt.order.public_id,
    )
    try:
        start = await provider.start(request)
    except ProviderError as exc:
        async with UnitOfWork(state.write_factory) as uow:
            await service.record_start_failed(uow.session, tenant, payment.id, str(exc))
            await uow.commit()
        raise PaymentStartFailed(exc.message or exc.code, provider_code=exc.code) from None
    async with UnitOfWork(state.write_factory) as uow:
        now_state, shown = await service.record_started(uow.session, tenant, payment.id, start)
        await uow.commit()
    return _started(payment, order_public_id, now_state, shown)


def _started(payment: Payment, order_public_id: str, state: str, start: dict[str, Any]) -> Started:
    return Started(
        payment_public_id=payment.public_id,
        order_public_id=order_public_id,
        method=payment.method,
        state=state,
        amount_fen=payment.amount_fen,
        start=dict(start),
    )


async def refresh_payment(state: AppState, tenant: Tenant, payment_public_id: str) -> Payment:
    """The attempt as it stands, after asking the provider if it has been open a while."""
    async with UnitOfWork(state.read_factory) as uow:
        payment = await service.get_payment(uow.session, tenant, payment_public_id)
        due = await service.due_for_query(
            uow.session, tenant, payment, after=QUERY_AFTER, every=QUERY_EVERY
        )
        account = await service.account_of(uow.session, tenant, payment.account_id) if due else None
    if account is None or account.provider == "sandbox":
        return payment
    async with UnitOfWork(state.write_factory) as uow:
        await service.mark_queried(uow.session, tenant, payment.id)
        await uow.commit()
    provider = accounts.provider_for(account, state.settings)
    try:
        status = await provider.query(payment.out_trade_no)
    except ProviderError as exc:
        log.warning("query of %s failed: %s", payment.out_trade_no, exc)
        return payment
    if status.state in ("paid", "refunded"):
        await callbacks.apply_trade_status(
            state, tenant, account, payment.out_trade_no, status, source="query"
        )
    async with UnitOfWork(state.read_factory) as uow:
        return await service.get_payment(uow.session, tenant, payment_public_id)


async def send_refund(session: AsyncSession, tenant: Tenant, refund_id: int) -> None:
    """Ask the provider for a recorded refund (outbox handler; idempotent: the provider
    answers a repeated ``out_refund_no`` with the same refund). A retryable provider error
    raises, so the outbox tries again; a refusal marks the refund failed."""
    # Locks in the one order every path uses — the payment, then its refund — so a refund
    # callback racing this handler cannot deadlock with it.
    payment = await settle.lock_payment(
        session,
        tenant,
        Payment.id
        == select(PaymentRefund.payment_id).where(PaymentRefund.id == refund_id).scalar_subquery(),
    )
    refund = await settle.lock_refund(session, tenant, PaymentRefund.id == refund_id)
    if payment is None or refund is None or refund.state != RefundState.REQUESTED.value:
        return
    account = await service.account_of(session, tenant, payment.account_id)
    settings = runtime.settings_for(session)
    provider = accounts.provider_for(account, settings)
    request = RefundRequest(
        out_trade_no=payment.out_trade_no,
        out_refund_no=refund.out_refund_no,
        refund_fen=refund.amount_fen,
        total_fen=payment.amount_fen,
        reason=refund.reason,
        notify_url=notify_url(settings, account.provider, account.public_id),
    )
    try:
        result = await provider.refund(request)
    except ProviderError as exc:
        if exc.retryable:
            raise
        await settle.finish_refund(session, tenant, refund, succeeded=False, error=str(exc))
        return
    if result.state == "succeeded":
        await settle.finish_refund(
            session, tenant, refund, succeeded=True, provider_refund_no=result.provider_refund_no
        )
    elif result.state == "failed":
        await settle.finish_refund(session, tenant, refund, succeeded=False, error="refused")
    else:
        refund.state = RefundState.PROCESSING.value
        refund.provider_refund_no = result.provider_refund_no
        refund.updated_at = clock.now()
        await session.flush()


async def close_open_attempts(session: AsyncSession, tenant: Tenant, order_id: int) -> None:
    """Close the order's open attempts at their providers (outbox handler of
    ``order.cancelled``). A trade that was paid meanwhile is applied — and so refunded,
    since its order is cancelled — never lost."""
    settings = runtime.settings_for(session)
    for payment in await service.open_attempts_of_order(session, tenant, order_id):
        account = await service.account_of(session, tenant, payment.account_id)
        provider = accounts.provider_for(account, settings)
        try:
            await provider.close(payment.out_trade_no)
        except ProviderError as exc:
            status = await provider.query(payment.out_trade_no)
            if status.state not in ("paid", "refunded"):
                if exc.retryable:
                    raise
                log.warning("close of %s refused: %s", payment.out_trade_no, exc)
                continue
            event = CallbackEvent(
                kind="payment",
                provider_event_id="close",
                out_trade_no=payment.out_trade_no,
                state="paid",
                amount_fen=status.amount_fen,
                provider_trade_no=status.provider_trade_no,
                occurred_at=status.paid_at,
            )
            outcome, payment_id = await callbacks.apply_event(session, tenant, account, event)
            await callbacks.record_query(
                session, account, event, outcome, payment_id, source="close"
            )
            continue
        await service.mark_closed(session, tenant, payment.id)


async def sandbox_pay(
    state: AppState, app: Any, tenant: Tenant, payment_public_id: str
) -> Outcome | None:
    """The sandbox's "pay" button: sign a payment callback for the attempt and post it to
    our callback route through the app itself (the same route a provider reaches).
    403 ``sandbox_payments_disabled`` while sandbox payments are off."""
    sandbox.require_enabled(state.settings)
    async with UnitOfWork(state.read_factory) as uow:
        payment = await service.get_payment(uow.session, tenant, payment_public_id)
        account = await service.account_of(uow.session, tenant, payment.account_id)
    if account.provider != "sandbox":
        return None
    provider = accounts.provider_for(account, state.settings)
    assert isinstance(provider, SandboxProvider)
    headers, body = provider.build_callback(
        out_trade_no=payment.out_trade_no, amount_fen=payment.amount_fen, now=clock.now()
    )
    url = notify_url(state.settings, "sandbox", account.public_id)
    path = "/" + url.split("/", 3)[3]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.local") as client:
        response = await client.post(path, content=body, headers=headers)
    return Outcome.PAID if response.status_code == 200 else Outcome.REJECTED
