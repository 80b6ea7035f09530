"""The transactional outbox and its in-process dispatcher.

``publish`` adds an :class:`OutboxEvent` in the caller's transaction, so an event exists
exactly when the change it announces committed. The dispatcher claims due events with a
lease (so a crashed process's claims come back), runs every handler subscribed to the
topic in one unit of work that also marks the event done, and retries failures with
exponential backoff until ``MAX_ATTEMPTS``, after which the event is ``dead`` and visible
to operators. Handlers with outside effects must be idempotent on ``event.id``: a crash
between the outside call and the commit replays them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loopmall.core import clock
from loopmall.core.models import OutboxEvent
from loopmall.core.tenancy import Tenant
from loopmall.core.text import escaped
from loopmall.core.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, OutboxEvent], Awaitable[None]]

MAX_ATTEMPTS = 10
LEASE = timedelta(seconds=60)

_handlers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(topic: str) -> Callable[[Handler], Handler]:
    """Decorator: run ``handler(session, event)`` for every event on ``topic``."""

    def register(handler: Handler) -> Handler:
        if handler not in _handlers[topic]:
            _handlers[topic].append(handler)
        return handler

    return register


def handlers_for(topic: str) -> list[Handler]:
    return list(_handlers.get(topic, ()))


async def publish(
    session: AsyncSession, topic: str, payload: dict[str, Any], tenant: Tenant | None = None
) -> OutboxEvent:
    """Record ``topic`` with ``payload`` in the current transaction."""
    at = clock.now()
    event = OutboxEvent(
        merchant_id=tenant.id if tenant else None,
        topic=topic,
        payload=payload,
        status="pending",
        attempts=0,
        created_at=at,
        available_at=at,
    )
    session.add(event)
    await session.flush()
    session.info["outbox_dirty"] = True
    return event


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** max(attempts - 1, 0), 3600))


class Dispatcher:
    """Polls the outbox and delivers events; one per process that does background work."""

    def __init__(
        self,
        write_factory: async_sessionmaker[AsyncSession],
        *,
        poll_seconds: float = 0.5,
        batch_size: int = 100,
        use_skip_locked: bool = False,
    ) -> None:
        self._factory = write_factory
        self._poll = poll_seconds
        self._batch = batch_size
        self._skip_locked = use_skip_locked
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def _claim(self) -> list[OutboxEvent]:
        async with UnitOfWork(self._factory) as uow:
            now = clock.now()
            stmt = (
                select(OutboxEvent)
                .where(OutboxEvent.status == "pending", OutboxEvent.available_at <= now)
                .order_by(OutboxEvent.id)
                .limit(self._batch)
            )
            if self._skip_locked:
                stmt = stmt.with_for_update(skip_locked=True)
            events = list((await uow.session.scalars(stmt)).all())
            for event in events:
                event.attempts += 1
                event.available_at = now + LEASE
            await uow.commit()
            return events

    async def _deliver(self, event: OutboxEvent) -> None:
        try:
            async with UnitOfWork(self._factory) as uow:
                for handler in handlers_for(event.topic):
                    await handler(uow.session, event)
                await uow.session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id == event.id)
                    .values(status="done", dispatched_at=clock.now(), last_error=None)
                )
                await uow.commit()
        except Exception as exc:  # a handler failed: record it and retry later
            log.warning("outbox event %s (%s) failed: %s", event.id, event.topic, exc)
            async with UnitOfWork(self._factory) as uow:
                dead = event.attempts >= MAX_ATTEMPTS
                await uow.session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id == event.id)
                    .values(
                        status="dead" if dead else "pending",
                        available_at=clock.now() + backoff(event.attempts),
                        # What failed may quote outside text (a gateway's answer): kept
                        # escaped, or a NUL would fail this update on PostgreSQL too.
                        last_error=escaped(f"{type(exc).__name__}: {exc}")[:2000],
                    )
                )
                await uow.commit()

    async def run_once(self) -> int:
        """Claim and deliver one batch; returns how many events were handled."""
        events = await self._claim()
        for event in events:
            await self._deliver(event)
            # Let whoever waits for the connection have it before the next event takes it:
            # on SQLite every write of the process queues on one connection, and a
            # dispatcher taking it straight back starved every other writer for as long as
            # events were due (the flash sale's order maker, the gate and the periodic jobs
            # timed out after 30 s while the events of 5,000 orders went out).
            await asyncio.sleep(0)
        return len(events)

    async def drain(self, max_rounds: int = 100) -> int:
        """Deliver until nothing is due (tests and CLI use this)."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.run_once()
            total += handled
            if handled == 0:
                break
        return total

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                handled = await self.run_once()
            except Exception:  # keep the loop alive through a database hiccup
                log.exception("outbox dispatcher round failed")
                handled = 0
            if handled:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            except TimeoutError:
                pass

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="outbox-dispatcher")
        _active.add(self)

    async def stop(self) -> None:
        self._stopping = True
        _active.discard(self)
        if self._task:
            self._wake.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


_active: set[Dispatcher] = set()


def notify_committed(session: AsyncSession) -> None:
    """Called by the unit of work after a commit: wake dispatchers if events were added."""
    if session.info.pop("outbox_dirty", False):
        for dispatcher in list(_active):
            dispatcher.wake()
