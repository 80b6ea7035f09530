"""What the notifications domain does when events arrive, and its periodic job.

Every order step and fitting event: the inbox entry and the outside message are planned in
the event's unit of work. ``notification.queued`` (its own event): the outside call.
Job ``notifications-sweep``: settles sends that died (the provider refused for good or was
down for hours).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import outbox
from loopmall.core.events import Event, current_delivery, subscribe
from loopmall.core.jobs import periodic
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant, tenant_of
from loopmall.core.uow import UnitOfWork
from loopmall.guides.events import FittingBooked, FittingReminder
from loopmall.notifications import runtime, service
from loopmall.notifications.events import NotificationQueued
from loopmall.orders.events import ORDER_EVENTS

SEND = "notifications.send"


async def on_step(session: AsyncSession, tenant: Tenant, event: Any) -> None:
    info = current_delivery(session)
    assert info is not None  # handlers run inside a delivery
    await service.plan_for_event(session, runtime.settings_for(session), event, info.event_id)


_STEPS: tuple[type[Event], ...] = (*ORDER_EVENTS, FittingBooked, FittingReminder)
for _kind in _STEPS:
    subscribe(_kind, f"notifications.tell_customer.{_kind.topic}")(on_step)


@subscribe(NotificationQueued, SEND)
async def on_send(session: AsyncSession, tenant: Tenant, event: NotificationQueued) -> None:
    info = current_delivery(session)
    await service.send(
        session,
        runtime.settings_for(session),
        tenant,
        event.notification_id,
        replay=info is not None and info.attempt > 1,
    )


@periodic("notifications-sweep", lambda settings: 300.0)
async def sweep(state: AppState) -> int:
    """Settle sends that died (marked failed, WeChat ones texted instead) so no
    notification stays pending forever."""
    async with UnitOfWork(state.write_factory) as uow:
        settled = 0
        for delivery, event in await outbox.dead_deliveries(uow.session, subscriber_name=SEND):
            tenant = await tenant_of(uow.session, int(event.merchant_id or 0))
            why = delivery.last_error or "no answer"
            if await service.give_up(
                uow.session, tenant, int(event.payload["notification_id"]), why
            ):
                settled += 1
            await outbox.settle_dead(uow.session, delivery.id, why)
        await uow.commit()
    return settled
