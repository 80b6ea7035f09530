"""The daily reconciliation: what each provider says about the day's attempts, against our
payments and the orders they pay. Every difference is a line of the report.

Kinds of difference:

* ``paid_not_recorded`` — the provider has the money, we do not (a lost callback). The
  report applies it through the same path as a callback, so the order is paid or the money
  refunded, and says so (``applied``).
* ``recorded_not_paid`` — we count it paid, the provider does not.
* ``amount_differs`` — both say paid, amounts differ.
* ``order_not_paid`` — the payment succeeded but its order never took it and no refund
  was recorded.
* ``query_failed`` — the provider could not be asked.

Sandbox attempts are not reconciled: the sandbox keeps no records to compare with.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.uow import UnitOfWork
from loopmall.integrations.payment_provider import ProviderError, TradeStatus
from loopmall.orders import service as orders
from loopmall.payments import accounts, callbacks
from loopmall.payments.models import Payment, PaymentAccount, PaymentRefund, ReconciliationReport
from loopmall.payments.rules import PAID_STATES, PaymentState


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A Shanghai calendar day as a UTC interval."""
    start = datetime.combine(day, time(0), tzinfo=clock.SHANGHAI)
    return start, start + timedelta(days=1)


def yesterday() -> date:
    return clock.local(clock.now()).date() - timedelta(days=1)


def _line(kind: str, payment: Payment, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "payment": payment.public_id,
        "out_trade_no": payment.out_trade_no,
        "provider": payment.provider,
        "ours": payment.state,
        "amount_fen": payment.amount_fen,
        **extra,
    }


async def _compare(
    state: AppState, tenant: Tenant, payment: Payment, account: PaymentAccount
) -> dict[str, Any] | None:
    provider = accounts.provider_for(account, state.settings)
    try:
        status: TradeStatus = await provider.query(payment.out_trade_no)
    except ProviderError as exc:
        return _line("query_failed", payment, error=exc.code)
    theirs_paid = status.state in ("paid", "refunded")
    ours_paid = payment.state in PAID_STATES
    if theirs_paid and not ours_paid:
        outcome = await callbacks.apply_trade_status(
            state, tenant, account, payment.out_trade_no, status, source="reconcile"
        )
        return _line(
            "paid_not_recorded",
            payment,
            theirs=status.state,
            provider_amount_fen=status.amount_fen,
            applied=str(outcome),
        )
    if ours_paid and not theirs_paid:
        return _line("recorded_not_paid", payment, theirs=status.state)
    if ours_paid and status.amount_fen is not None and status.amount_fen != payment.amount_fen:
        return _line("amount_differs", payment, provider_amount_fen=status.amount_fen)
    if ours_paid:
        async with UnitOfWork(state.read_factory) as uow:
            order = await orders.get_payable(uow.session, tenant, payment.order_id)
            refunded = await uow.session.scalar(
                select(PaymentRefund.id).where(
                    PaymentRefund.payment_id == payment.id, PaymentRefund.merchant_id == tenant.id
                )
            )
        if order.paid_fen == 0 and refunded is None:
            return _line(
                "order_not_paid", payment, order=order.public_id, order_status=order.status
            )
    return None


async def reconcile_day(state: AppState, tenant: Tenant, day: date) -> ReconciliationReport:
    """Compare the day's attempts (by creation, Shanghai time) with their providers and
    store the report (a rerun of a day replaces its report)."""
    start, end = day_bounds(day)
    async with UnitOfWork(state.read_factory) as uow:
        payments = list(
            (
                await uow.session.scalars(
                    scoped(
                        Payment,
                        tenant,
                        Payment.created_at >= start,
                        Payment.created_at < end,
                        Payment.provider != "sandbox",
                        Payment.state != PaymentState.FAILED.value,
                    ).order_by(Payment.id)
                )
            ).all()
        )
        account_rows = await accounts.list_accounts(uow.session, tenant)
    by_id = {a.id: a for a in account_rows}
    lines: list[dict[str, Any]] = []
    for payment in payments:
        line = await _compare(state, tenant, payment, by_id[payment.account_id])
        if line is not None:
            lines.append(line)
    async with UnitOfWork(state.write_factory) as uow:
        report = await uow.session.scalar(
            scoped(ReconciliationReport, tenant, ReconciliationReport.day == day.isoformat())
        )
        if report is None:
            report = ReconciliationReport(
                merchant_id=tenant.id, public_id=new_public_id("rec"), day=day.isoformat()
            )
            uow.session.add(report)
        report.checked = len(payments)
        report.differences = len(lines)
        report.lines = lines
        report.created_at = clock.now()
        await uow.session.flush()
        await uow.commit()
    return report


async def merchants_with_accounts(state: AppState) -> list[Tenant]:
    async with UnitOfWork(state.read_factory) as uow:
        ids = (await uow.session.scalars(select(PaymentAccount.merchant_id).distinct())).all()
    return [Tenant(int(i), "") for i in ids]


async def reconcile_all(state: AppState, day: date | None = None) -> int:
    """Reconcile ``day`` (default: yesterday) for every merchant with a payment account
    that has no report for it yet; returns how many reports were made."""
    day = day or yesterday()
    made = 0
    for tenant in await merchants_with_accounts(state):
        async with UnitOfWork(state.read_factory) as uow:
            exists = await uow.session.scalar(
                select(ReconciliationReport.id).where(
                    ReconciliationReport.merchant_id == tenant.id,
                    ReconciliationReport.day == day.isoformat(),
                )
            )
        if exists is None:
            await reconcile_day(state, tenant, day)
            made += 1
    return made


async def list_reports(session: Any, tenant: Tenant, limit: int = 60) -> list[ReconciliationReport]:
    rows = await session.scalars(
        scoped(ReconciliationReport, tenant).order_by(ReconciliationReport.day.desc()).limit(limit)
    )
    return list(rows.all())
