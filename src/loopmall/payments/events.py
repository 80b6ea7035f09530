"""Events this domain publishes and the outbox handlers and jobs it runs.

Publishes ``payment.succeeded`` (payload: merchant_id, payment_id, order_id, amount_fen,
provider) and ``payment.refund_requested`` (its own handler sends the refund).
Subscribes ``order.cancelled``: the order's open attempts are closed at their providers.
Jobs: ``payments-reconcile`` (yesterday's reconciliation for every merchant, once) and
``payments-refunds`` (refunds the outbox gave up on are sent again).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.jobs import periodic
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import publish, subscribe
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.payments import flows, reconciliation
from loopmall.payments.models import PaymentRefund
from loopmall.payments.rules import RefundState
from loopmall.payments.settle import REFUND_TOPIC


def _tenant(event: OutboxEvent) -> Tenant:
    merchant_id = event.merchant_id or int(event.payload["merchant_id"])
    return Tenant(int(merchant_id), "")


@subscribe(REFUND_TOPIC)
async def send_refund(session: AsyncSession, event: OutboxEvent) -> None:
    await flows.send_refund(session, _tenant(event), int(event.payload["refund_id"]))


@subscribe("order.cancelled")
async def close_attempts(session: AsyncSession, event: OutboxEvent) -> None:
    await flows.close_open_attempts(session, _tenant(event), int(event.payload["order_id"]))


@periodic("payments-reconcile", lambda settings: 3600.0)
async def reconcile(state: AppState) -> int:
    return await reconciliation.reconcile_all(state)


@periodic("payments-refunds", lambda settings: 300.0)
async def resend_refunds(state: AppState) -> int:
    """Refunds still ``requested`` whose outbox event died (provider down for hours) get a
    new event, so money owed back is never forgotten."""
    async with UnitOfWork(state.write_factory) as uow:
        dead = (
            await uow.session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.topic == REFUND_TOPIC, OutboxEvent.status == "dead"
                )
            )
        ).all()
        count = 0
        for old in dead:
            refund = await uow.session.scalar(
                select(PaymentRefund).where(PaymentRefund.id == int(old.payload["refund_id"]))
            )
            old.status = "done"
            if refund is not None and refund.state == RefundState.REQUESTED.value:
                await publish(uow.session, REFUND_TOPIC, dict(old.payload), _tenant(old))
                count += 1
        await uow.commit()
    return count
