"""Events the attribution domain publishes and the handlers it registers.

Subscribes ``order.paid`` (every online payment, face-to-face 收款码 included: those credit
the code's store/guide, rule ``payment_code``) and ``order.completed`` (orders never paid
online — cash on delivery, store sales — are credited when they complete; an order already
credited is skipped). Publishes ``attribution.credited`` (see ``ledger``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution.ledger import CREDITED_TOPIC as CREDITED_TOPIC
from loopmall.attribution.ledger import credit_order
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import subscribe
from loopmall.core.tenancy import Tenant


def _tenant(event: OutboxEvent) -> Tenant:
    merchant_id = event.merchant_id or int(event.payload["merchant_id"])
    return Tenant(int(merchant_id), "")


@subscribe("order.paid")
async def credit_paid_order(session: AsyncSession, event: OutboxEvent) -> None:
    await credit_order(session, _tenant(event), int(event.payload["order_id"]))


@subscribe("order.completed")
async def credit_completed_order(session: AsyncSession, event: OutboxEvent) -> None:
    payload = event.payload
    if payload.get("payment_method") == "online":
        return  # credited on order.paid
    await credit_order(session, _tenant(event), int(payload["order_id"]))
