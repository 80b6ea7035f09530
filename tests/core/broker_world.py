"""The broker tests' event and subscribers, imported by the test and by the ``loopmall
worker`` processes it starts (``LOOPMALL_EXTRA_HANDLER_MODULES=tests.core.broker_world``).

Each subscriber writes one row per application into ``broker_effects``, a table without a
unique key: an event applied twice would show as two rows."""

from __future__ import annotations

import asyncio
import os
import random

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.events import Event, current_delivery, subscribe
from loopmall.core.tenancy import Tenant

COUNT = "test_broker.count"
IN_ORDER = "test_broker.in_order"

EFFECTS_DDL = (
    "CREATE TABLE IF NOT EXISTS broker_effects ("
    " id BIGSERIAL PRIMARY KEY, event_id BIGINT NOT NULL, subscriber TEXT NOT NULL,"
    " thing_id BIGINT NOT NULL, seq INT NOT NULL, pid INT NOT NULL)"
)


class Tick(Event):
    topic = "test.broker.tick"
    aggregate_field = "thing_id"
    summary = "A test event of the broker tests."
    thing_id: int
    seq: int  # the n-th event of its thing


async def _effect(session: AsyncSession, subscriber: str, event: Tick) -> None:
    info = current_delivery(session)
    assert info is not None
    await session.execute(
        text(
            "INSERT INTO broker_effects (event_id, subscriber, thing_id, seq, pid) "
            "VALUES (:e, :s, :t, :q, :p)"
        ),
        {
            "e": info.event_id,
            "s": subscriber,
            "t": event.thing_id,
            "q": event.seq,
            "p": os.getpid(),
        },
    )


@subscribe(Tick, COUNT)
async def count(session: AsyncSession, tenant: Tenant, event: Tick) -> None:
    # A little work in the transaction, so a killed worker is likely to hold messages.
    await asyncio.sleep(random.uniform(0, 0.004))
    await _effect(session, COUNT, event)


@subscribe(Tick, IN_ORDER, ordered=True)
async def in_order(session: AsyncSession, tenant: Tenant, event: Tick) -> None:
    # Uneven handling times: without the broker's one-at-a-time per partition, a later
    # event of a thing would often commit before an earlier one.
    await asyncio.sleep(random.uniform(0, 0.004))
    await _effect(session, IN_ORDER, event)
