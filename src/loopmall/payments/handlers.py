"""What the payments domain does when events arrive, and its periodic jobs.

Subscribes ``payment.refund_requested`` (its own event: the refund is sent to the provider)
and ``order.cancelled`` (the order's open attempts are closed at their providers).
Jobs: ``payments-reconcile`` (yesterday's reconciliation for every merchant, once) and
``payments-refunds`` (refunds whose sending died are tried again).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import outbox
from loopmall.core.events import subscribe
from loopmall.core.jobs import periodic
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.orders.events import OrderCancelled
from loopmall.payments import flows, reconciliation
from loopmall.payments.events import RefundRequested
from loopmall.payments.models import PaymentRefund
from loopmall.payments.rules import RefundState

SEND_REFUND = "payments.send_refund"


@subscribe(RefundRequested, SEND_REFUND)
async def send_refund(session: AsyncSession, tenant: Tenant, event: RefundRequested) -> None:
    await flows.send_refund(session, tenant, event.refund_id)


@subscribe(OrderCancelled, "payments.close_open_attempts")
async def close_attempts(session: AsyncSession, tenant: Tenant, event: OrderCancelled) -> None:
    await flows.close_open_attempts(session, tenant, event.order_id)


@periodic("payments-reconcile", lambda settings: 3600.0)
async def reconcile(state: AppState) -> int:
    return await reconciliation.reconcile_all(state)


@periodic("payments-refunds", lambda settings: 300.0)
async def resend_refunds(state: AppState) -> int:
    """Refunds still ``requested`` whose sending died (provider down for hours) are tried
    again with a fresh set of attempts, so money owed back is never forgotten; dead sends of
    refunds settled meanwhile are set aside."""
    async with UnitOfWork(state.write_factory) as uow:
        dead = await outbox.dead_deliveries(uow.session, subscriber_name=SEND_REFUND)
        again: list[int] = []
        for delivery, event in dead:
            refund = await uow.session.scalar(
                select(PaymentRefund).where(
                    PaymentRefund.merchant_id == event.merchant_id,
                    PaymentRefund.id == int(event.payload["refund_id"]),
                )
            )
            if refund is not None and refund.state == RefundState.REQUESTED.value:
                again.append(delivery.id)
            else:
                await outbox.settle_dead(uow.session, delivery.id, "the refund was settled")
        count = await outbox.retry_dead(uow.session, again)
        await uow.commit()
    return count
