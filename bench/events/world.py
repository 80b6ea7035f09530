"""The benchmark's event and its three subscribers, imported by the ``loopmall worker``
processes under test (``LOOPMALL_EXTRA_HANDLER_MODULES=bench.events.world``) and by the load
generator. Each subscriber writes when it finished into ``bench_event_effects``."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.events import Event, current_delivery, subscribe
from loopmall.core.tenancy import Tenant

SUBSCRIBERS = ("bench_events.count", "bench_events.count_again", "bench_events.in_order")

EFFECTS_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_event_effects (event_id BIGINT NOT NULL,"
    " subscriber VARCHAR(80) NOT NULL, sent_at DOUBLE PRECISION NOT NULL,"
    " done_at DOUBLE PRECISION NOT NULL)"
)


class Ticked(Event):
    topic = "bench.tick_published"
    aggregate_field = "thing_id"
    summary = "The event benchmark's event."
    thing_id: int
    seq: int
    sent_at: float  # wall clock just before the publishing transaction commits


async def _done(session: AsyncSession, name: str, event: Ticked) -> None:
    info = current_delivery(session)
    await session.execute(
        text(
            "INSERT INTO bench_event_effects (event_id, subscriber, sent_at, done_at) "
            "VALUES (:e, :s, :a, :d)"
        ),
        {"e": info.event_id if info else 0, "s": name, "a": event.sent_at, "d": time.time()},
    )


@subscribe(Ticked, SUBSCRIBERS[0])
async def count(session: AsyncSession, tenant: Tenant, event: Ticked) -> None:
    await _done(session, SUBSCRIBERS[0], event)


@subscribe(Ticked, SUBSCRIBERS[1])
async def count_again(session: AsyncSession, tenant: Tenant, event: Ticked) -> None:
    await _done(session, SUBSCRIBERS[1], event)


@subscribe(Ticked, SUBSCRIBERS[2], ordered=True)
async def in_order(session: AsyncSession, tenant: Tenant, event: Ticked) -> None:
    await _done(session, SUBSCRIBERS[2], event)
