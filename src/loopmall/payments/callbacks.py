"""The callback pipeline: verified → recorded → applied once, answered so providers retry
exactly when they should.

1. The URL names the account (``/api/v1/payments/callbacks/{provider}/{account}``); its
   adapter verifies the callback (serial, timestamp window, signature; WeChat Pay's
   resource is decrypted). A failure is recorded and answered "failed" (WeChat: 4xx
   ``FAIL``; Alipay: not ``success``).
2. A verified callback for another merchant number or app is recorded and refused; so is
   one naming an attempt or refund made through another provider or account
   (``foreign_trade`` / ``foreign_refund``): a callback settles only its own account's.
3. The event is applied (``settle``) in one transaction with its record. An unknown
   ``out_trade_no`` / ``out_refund_no`` (the attempt's transaction may not have
   committed yet) is recorded and answered "failed", so the provider tries again later.
4. If applying fails unexpectedly the transaction rolls back, the failure is recorded in
   a transaction of its own and the provider is told to retry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant, tenant_of
from loopmall.core.text import escaped, is_clean, storable
from loopmall.core.uow import UnitOfWork
from loopmall.integrations.payment_provider import (
    CallbackEvent,
    CallbackRejected,
    CallbackReply,
    PaymentProvider,
    TradeStatus,
)
from loopmall.payments import accounts, settle
from loopmall.payments.models import CallbackRecord, PaymentAccount
from loopmall.payments.rules import REFUSED_OUTCOMES, RETRY_OUTCOMES, Outcome

log = logging.getLogger(__name__)

MAX_BODY_KEPT = 20_000
_KEPT_HEADERS = ("content-type", "user-agent", "request-id")


@dataclass(frozen=True)
class Handled:
    outcome: Outcome
    reply: CallbackReply


def _record(  # noqa: PLR0913 (a callback record's columns, keyword-only)
    session: AsyncSession,
    account: PaymentAccount,
    *,
    source: str,
    verified: bool,
    outcome: Outcome | str,
    reply: CallbackReply | None,
    headers: Mapping[str, str],
    body: bytes,
    event: CallbackEvent | None = None,
    reason: str = "",
    payment_id: int | None = None,
) -> CallbackRecord:
    # Kept as received, whatever it holds (core.text.storable: a NUL or bytes that are not
    # UTF-8 are kept as base64), so that the attempt is recorded first and refused after.
    kept = {
        k.lower(): v if is_clean(v) else storable(v.encode("utf-8", "surrogatepass"))
        for k, v in headers.items()
        if k.lower() in _KEPT_HEADERS or k.lower().startswith(("wechatpay-", "x-sandbox-"))
    }
    record = CallbackRecord(
        merchant_id=account.merchant_id,
        account_id=account.id,
        provider=account.provider,
        source=source,
        verified=verified,
        kind=event.kind if event else "unknown",
        provider_event_id=escaped(event.provider_event_id if event else "")[:128],
        out_trade_no=escaped(event.out_trade_no if event else "")[:64],
        out_refund_no=escaped((event.out_refund_no or "") if event else "")[:64],
        amount_fen=event.amount_fen if event else None,
        payment_id=payment_id,
        outcome=str(outcome),
        reason=escaped(reason)[:255],
        http_status=reply.status_code if reply else 0,
        headers=kept,
        body=storable(body[:MAX_BODY_KEPT]),
        received_at=clock.now(),
    )
    session.add(record)
    return record


def _belongs(account: PaymentAccount, event: CallbackEvent) -> bool:
    """A verified event names our merchant number and app (when it names them at all)."""
    if event.merchant_no and account.provider == "wechatpay":
        if event.merchant_no != account.merchant_no:
            return False
    if event.merchant_no and account.provider == "alipay" and account.merchant_no:
        if event.merchant_no != account.merchant_no:
            return False
    return not (event.app_id and account.app_id and event.app_id != account.app_id)


async def apply_event(
    session: AsyncSession, tenant: Tenant, account: PaymentAccount, event: CallbackEvent
) -> tuple[Outcome, int | None]:
    """Apply an event that ``account``'s keys verified (or that ``account``'s provider
    answered to a query) to our records, in the caller's transaction. Only attempts and
    refunds made through ``account`` are settled (``FOREIGN_TRADE`` / ``FOREIGN_REFUND``
    otherwise)."""
    if event.kind == "payment":
        if event.state != "paid":
            # WeChat only notifies success; an Alipay WAIT_BUYER_PAY / TRADE_CLOSED changes
            # nothing that the close and query paths do not handle.
            return Outcome.IGNORED, None
        outcome, payment = await settle.apply_paid(
            session,
            tenant,
            out_trade_no=event.out_trade_no,
            amount_fen=event.amount_fen,
            provider_trade_no=event.provider_trade_no,
            paid_at=event.occurred_at,
            account=account,
        )
        return outcome, payment.id if payment else None
    # Found without a lock: finish_refund locks the payment, then the refund (the one order
    # every path takes).
    refused, refund = await settle.find_refund(session, tenant, account, event.out_refund_no or "")
    if refund is None:
        return refused or Outcome.UNKNOWN_REFUND, None
    # No amount check: out_refund_no is ours and names the amount we asked for (and
    # Alipay's refund notify carries the trade's total refunded so far, not this refund's).
    outcome = await settle.finish_refund(
        session,
        tenant,
        refund,
        succeeded=event.state == "refund_succeeded",
        error="" if event.state == "refund_succeeded" else f"provider: {event.state}",
    )
    return outcome, refund.payment_id


async def handle_callback(
    state: AppState,
    provider_name: str,
    account_public_id: str,
    headers: Mapping[str, str],
    body: bytes,
) -> Handled:
    """Verify, record and apply one callback; the reply is what the provider expects."""
    async with UnitOfWork(state.read_factory) as uow:
        account = await accounts.account_by_public_id(uow.session, provider_name, account_public_id)
        tenant = await tenant_of(uow.session, account.merchant_id) if account else None
    if account is None or tenant is None:
        # No account to verify with and no merchant to record it under: refuse (a provider
        # retrying an account that was removed gets the same answer every time).
        reply = CallbackReply(status_code=404, body=b"FAIL", media_type="text/plain")
        return Handled(Outcome.REJECTED, reply)
    provider: PaymentProvider = accounts.provider_for(account, state.settings)
    try:
        event = provider.parse_callback(headers, body, now=clock.now())
    except CallbackRejected as exc:
        reply = provider.rejected(exc.reason)
        async with UnitOfWork(state.write_factory) as uow:
            _record(
                uow.session,
                account,
                source="callback",
                verified=False,
                outcome=Outcome.REJECTED,
                reply=reply,
                headers=headers,
                body=body,
                reason=exc.reason,
            )
            await uow.commit()
        return Handled(Outcome.REJECTED, reply)

    if not _belongs(account, event):
        reply = provider.rejected("wrong account")
        async with UnitOfWork(state.write_factory) as uow:
            _record(
                uow.session,
                account,
                source="callback",
                verified=True,
                outcome=Outcome.WRONG_ACCOUNT,
                reply=reply,
                headers=headers,
                body=body,
                event=event,
                reason="merchant number or app does not match the account",
            )
            await uow.commit()
        return Handled(Outcome.WRONG_ACCOUNT, reply)

    try:
        async with UnitOfWork(state.write_factory) as uow:
            outcome, payment_id = await apply_event(uow.session, tenant, account, event)
            refused = outcome in RETRY_OUTCOMES or outcome in REFUSED_OUTCOMES
            reply = provider.rejected(outcome) if refused else provider.accepted()
            _record(
                uow.session,
                account,
                source="callback",
                verified=True,
                outcome=outcome,
                reply=reply,
                headers=headers,
                body=body,
                event=event,
                payment_id=payment_id,
                reason=REFUSED_OUTCOMES.get(outcome, ""),
            )
            await uow.commit()
        return Handled(outcome, reply)
    except Exception as exc:  # record it and let the provider retry; never a silent loss
        log.exception("payment callback %s failed", event.out_trade_no)
        reply = provider.rejected("error")
        async with UnitOfWork(state.write_factory) as uow:
            _record(
                uow.session,
                account,
                source="callback",
                verified=True,
                outcome="error",
                reply=reply,
                headers=headers,
                body=body,
                event=event,
                reason=f"{type(exc).__name__}: {exc}",
            )
            await uow.commit()
        return Handled(Outcome.REJECTED, reply)


async def record_query(
    session: AsyncSession,
    account: PaymentAccount,
    event: CallbackEvent,
    outcome: Outcome,
    payment_id: int | None,
    source: str = "query",
) -> None:
    """A query answer applied like a callback is recorded like one (source ``query``)."""
    _record(
        session,
        account,
        source=source,
        verified=True,
        outcome=outcome,
        reply=None,
        headers={},
        body=b"",
        event=event,
        payment_id=payment_id,
    )
    await session.flush()


async def apply_trade_status(
    state: AppState,
    tenant: Tenant,
    account: PaymentAccount,
    out_trade_no: str,
    status: TradeStatus,
    *,
    source: str,
) -> Outcome:
    """A provider's answer that the trade is paid (from a query or the reconciliation),
    applied and recorded exactly as the payment callback it stands for would be."""
    event = CallbackEvent(
        kind="payment",
        provider_event_id=source,
        out_trade_no=out_trade_no,
        state="paid",
        amount_fen=status.amount_fen,
        provider_trade_no=status.provider_trade_no,
        occurred_at=status.paid_at,
    )
    async with UnitOfWork(state.write_factory) as uow:
        outcome, payment_id = await apply_event(uow.session, tenant, account, event)
        await record_query(uow.session, account, event, outcome, payment_id, source=source)
        await uow.commit()
    return outcome
