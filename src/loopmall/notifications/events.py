"""Events this domain subscribes and publishes.

Subscribes every order step (``order.created``, ``order.paid``, ``order.shipped``,
``order.ready_for_pickup``, ``order.completed``, ``order.cancelled``, ``order.refunded``):
the inbox entry and the outside message are planned in the event's unit of work.
Publishes and handles ``notification.send`` (payload: merchant_id, notification_id): the
outside call. Job ``notifications-sweep``: settles sends the outbox gave up on.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.jobs import periodic
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import subscribe
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.notifications import compose, runtime, service


async def on_order_step(session: AsyncSession, event: OutboxEvent) -> None:
    await service.plan_for_event(session, runtime.settings_for(session), event)


for _topic in compose.TOPICS:
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


@periodic("notifications-sweep", lambda settings: 300.0)
async def sweep(state: AppState) -> int:
    """Settle sends the outbox gave up on
    (marked failed, WeChat ones texted instead) so no notification stays pending forever."""
    async with UnitOfWork(state.write_factory) as uow:
        dead = (
            await uow.session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.topic == service.SEND_TOPIC, OutboxEvent.status == "dead")
                .limit(500)
            )
        ).all()
        settled = 0
        for event in dead:
            merchant_id = int(event.merchant_id or event.payload["merchant_id"])
            tenant = Tenant(merchant_id, "")
            why = event.last_error or "no answer"
            if await service.give_up(
                uow.session, tenant, int(event.payload["notification_id"]), why
            ):
                settled += 1
            event.status = "done"
        await uow.commit()
    return settled
