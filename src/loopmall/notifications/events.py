"""Events this domain subscribes and publishes.

Subscribes every order step (``order.created``, ``order.paid``, ``order.shipped``,
``order.ready_for_pickup``, ``order.completed``, ``order.cancelled``, ``order.refunded``):
the inbox entry and the outside message are planned in the event's unit of work.
Publishes and handles ``notification.send`` (payload: merchant_id, notification_id): the
outside call. Job ``notifications-runtime``: remembers the app's settings for handlers.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.jobs import periodic
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import subscribe
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.notifications import compose, runtime, service


async def on_order_step(session: AsyncSession, event: OutboxEvent) -> None:
    await service.plan_for_event(session, runtime.settings_for(session), event)


for _topic in compose.ORDER_TOPICS:
    subscribe(_topic)(on_order_step)


@subscribe(service.SEND_TOPIC)
async def on_send(session: AsyncSession, event: OutboxEvent) -> None:
    merchant_id = int(event.merchant_id or event.payload["merchant_id"])
    await service.send(
        session,
        runtime.settings_for(session),
        Tenant(merchant_id, ""),
        int(event.payload["notification_id"]),
        replay=event.attempts > 1,
    )


@periodic("notifications-runtime", lambda settings: 3600.0)
async def remember_settings(state: AppState) -> int:
    runtime.remember(state)
    return 0
