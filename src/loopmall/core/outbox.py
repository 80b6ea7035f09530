"""The transactional outbox, delivery per subscriber, and the embedded dispatcher.

``publish`` is the one writer of outbox rows: it records typed events in the caller's
transaction, so an event exists exactly when the change it announces committed.

Every (event, subscriber) pair is delivered on its own (:func:`apply`): the handler runs in
a unit of work that also writes the pair's :class:`EventDelivery` row as ``done``, and the
row's unique key makes the backbone — not each handler — refuse to apply an event twice. A
handler that raises rolls back only its own work; its row records the failure (with the
traceback) and waits out a backoff, and after ``MAX_ATTEMPTS`` it is ``dead`` until an
operator retries it. Other subscribers of the same event are not replayed or held up.

How an event reaches its subscribers the first time is the transport's business: in one
process (the embedded default, :class:`LocalDelivery`) the dispatcher applies them in turn;
with a broker the dispatcher relays the committed rows and ``loopmall worker`` consumers
call :func:`apply`. Either way retries come from the delivery rows (:meth:`Dispatcher.retry_due`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import and_, exists, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loopmall.core import clock
from loopmall.core.events import (
    DeliveryInfo,
    Envelope,
    Event,
    EventError,
    Subscriber,
    set_current_delivery,
    subscriber,
    subscribers_of,
)
from loopmall.core.models import EventDelivery, OutboxEvent
from loopmall.core.tenancy import tenant_of
from loopmall.core.text import escaped
from loopmall.core.uow import UnitOfWork

log = logging.getLogger(__name__)

OUTBOX = OutboxEvent.metadata.tables[OutboxEvent.__tablename__]

MAX_ATTEMPTS = 10
LEASE = timedelta(seconds=60)
# How long a delivery waiting behind an earlier one of its aggregate waits before it looks again.
WAIT_BEHIND = timedelta(seconds=2)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** max(attempts - 1, 0), 3600))


# --- publishing ----------------------------------------------------------------------


async def publish(session: AsyncSession, *events: Event) -> None:
    """Record ``events`` in the current transaction (one statement for any number)."""
    if not events:
        return
    at = clock.now()
    # A plain multi-row insert into the table: the ORM's bulk insert was many times slower
    # for the batches the flash sale and the attribution ledger publish.
    await session.execute(
        insert(OUTBOX),
        [
            {
                "merchant_id": event.merchant_id,
                "topic": event.topic,
                "version": event.version,
                "aggregate": event.aggregate,
                "payload": event.data(),
                "status": "pending",
                "attempts": 0,
                "created_at": at,
                "available_at": at,
            }
            for event in events
        ],
    )
    session.info["outbox_dirty"] = True
    # Kept for the listeners that must act before the answer goes out (``after_commit``).
    session.info.setdefault(_PUBLISHED, []).extend(events)


_PUBLISHED = "loopmall.published"

AfterCommit = Callable[[AsyncSession, Sequence[Event]], Awaitable[None]]
_after_commit: list[AfterCommit] = []


def after_commit(listener: AfterCommit) -> AfterCommit:
    """Register ``listener(session, events)``: called by the unit of work right after a
    commit with the events that commit published, in the process and the request that made
    the change (the read cache forgets what they changed before the answer goes out). Not
    durable — a subscriber is; a listener must not raise."""
    if listener not in _after_commit:
        _after_commit.append(listener)
    return listener


def forget_published(session: AsyncSession) -> None:
    """Called by the unit of work on a rollback: those events never happened."""
    session.info.pop(_PUBLISHED, None)


async def run_after_commit(session: AsyncSession) -> None:
    """Called by the unit of work after a commit: wake the dispatchers, then run the
    ``after_commit`` listeners for the events just committed."""
    notify_committed(session)
    events = session.info.pop(_PUBLISHED, None)
    if not events:
        return
    for listener in list(_after_commit):
        try:
            await listener(session, events)
        except Exception:  # the change is committed; the durable subscribers still run
            log.exception("after-commit listener %s failed", listener)


def envelope_of(row: OutboxEvent) -> Envelope:
    return Envelope(
        id=row.id,
        topic=row.topic,
        version=row.version,
        merchant_id=int(row.merchant_id or 0),
        occurred_at=row.created_at,
        data=dict(row.payload),
        aggregate=row.aggregate,
    )


# --- applying one event to one subscriber --------------------------------------------


class Outcome(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this subscriber already has it: nothing was done
    FAILED = "failed"  # the handler raised: retried after a backoff
    DEAD = "dead"  # given up (attempts spent, or the event cannot be read)
    WAITING = "waiting"  # an earlier event of the same aggregate is not through yet


def _insert_ignoring(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(EventDelivery)


async def _take(
    session: AsyncSession, sub: Subscriber[Any], env: Envelope, attempt: int
) -> EventDelivery | None:
    """This pair's delivery row, locked for this transaction, or ``None`` when the pair is
    already done. A first attempt inserts the row as ``done`` (the insert disappears if the
    handler fails and the transaction rolls back); a second process applying the same pair
    at the same time waits on the unique key, then finds it done."""
    query = select(EventDelivery).where(
        EventDelivery.event_id == env.id, EventDelivery.subscriber == sub.name
    )
    row = await session.scalar(query.with_for_update())
    if row is None:
        now = clock.now()
        inserted = await session.scalar(
            _insert_ignoring(session)
            .values(
                event_id=env.id,
                merchant_id=env.merchant_id,
                subscriber=sub.name,
                topic=env.topic,
                aggregate=env.aggregate,
                status="done",
                attempts=attempt,
                created_at=now,
                available_at=now,
                done_at=now,
            )
            .on_conflict_do_nothing()
            .returning(EventDelivery.id)
        )
        row = await session.scalar(
            query.with_for_update().execution_options(populate_existing=True)
        )
        assert row is not None
        if inserted is not None:
            return row
    return None if row.status == "done" else row


THROUGH = ("done", "settled")  # a delivery in one of these no longer holds later ones back


async def _behind_an_earlier(session: AsyncSession, sub: Subscriber[Any], env: Envelope) -> bool:
    """Whether an ordered subscriber must not have ``env`` yet: an earlier event of the same
    aggregate (and topic) is not through to it — its delivery failed or waits, or it was
    never handed on at all (a relay that failed half-way through a batch while the broker
    restarted can leave a later event in the stream ahead of an earlier one, which is still
    pending here). Transport order alone is not trusted."""
    if not (sub.ordered and env.aggregate):
        return False
    failed_or_waiting = exists().where(
        EventDelivery.subscriber == sub.name,
        EventDelivery.aggregate == env.aggregate,
        EventDelivery.event_id < env.id,
        EventDelivery.status.not_in(THROUGH),
    )
    done_for_sub = exists().where(
        EventDelivery.event_id == OutboxEvent.id,
        EventDelivery.subscriber == sub.name,
        EventDelivery.status.in_(THROUGH),
    )
    not_handed_on = exists().where(
        OutboxEvent.aggregate == env.aggregate,
        OutboxEvent.topic == sub.topic,
        OutboxEvent.id < env.id,
        OutboxEvent.status == "pending",
        ~done_for_sub,
    )
    return bool(await session.scalar(select(or_(failed_or_waiting, not_handed_on))))


async def apply(
    factory: async_sessionmaker[AsyncSession],
    sub: Subscriber[Any],
    env: Envelope,
    *,
    attempt: int = 1,
) -> Outcome:
    """Run ``sub`` for ``env`` unless it already ran; record the outcome. Never raises for
    a handler's failure (it is recorded); raises only when the database itself fails, and
    then nothing was recorded and the caller tries again later."""
    try:
        event = env.event()
    except EventError as exc:
        await _record_failure(factory, sub.name, env, attempt, exc, dead=True)
        return Outcome.DEAD
    try:
        async with UnitOfWork(factory) as uow:
            session = uow.session
            row = await _take(session, sub, env, attempt)
            if row is None:
                return Outcome.DUPLICATE
            if await _behind_an_earlier(session, sub, env):
                row.status = "pending"
                row.done_at = None
                row.attempts = max(attempt - 1, 0)
                row.available_at = clock.now() + WAIT_BEHIND
                row.last_error = "waiting for an earlier event of " + str(env.aggregate)
                await uow.commit()
                return Outcome.WAITING
            tenant = await tenant_of(session, env.merchant_id)
            set_current_delivery(session, DeliveryInfo(env.id, sub.name, attempt))
            await sub.handler(session, tenant, event)
            set_current_delivery(session, None)
            row.status, row.attempts, row.last_error = "done", attempt, None
            row.done_at = clock.now()
            await uow.commit()
            return Outcome.APPLIED
    except Exception as exc:  # the handler failed: its work rolled back, record why
        log.exception("event %s (%s) failed in %s", env.id, env.topic, sub.name)
        dead = attempt >= MAX_ATTEMPTS
        await _record_failure(factory, sub.name, env, attempt, exc, dead=dead)
        return Outcome.DEAD if dead else Outcome.FAILED


def _why(exc: BaseException) -> str:
    # What failed may quote outside text (a gateway's answer): kept escaped, or a NUL would
    # fail this update on PostgreSQL too. The traceback's end says where.
    lines = traceback.format_exception(exc)
    return escaped("".join(lines), multiline=True)[-4000:]


async def _record_failure(
    factory: async_sessionmaker[AsyncSession],
    subscriber_name: str,
    env: Envelope,
    attempt: int,
    exc: BaseException,
    *,
    dead: bool,
) -> None:
    now = clock.now()
    values = {
        "status": "dead" if dead else "pending",
        "attempts": attempt,
        "available_at": now + backoff(attempt),
        "done_at": None,
        "last_error": _why(exc),
    }
    async with UnitOfWork(factory) as uow:
        session = uow.session
        await session.execute(
            _insert_ignoring(session)
            .values(
                event_id=env.id,
                merchant_id=env.merchant_id,
                subscriber=subscriber_name,
                topic=env.topic,
                aggregate=env.aggregate,
                created_at=now,
                **values,
            )
            .on_conflict_do_nothing()
        )
        await session.execute(
            update(EventDelivery)
            .where(
                EventDelivery.event_id == env.id,
                EventDelivery.subscriber == subscriber_name,
                EventDelivery.status != "done",
            )
            .values(**values)
        )
        await uow.commit()


# --- first delivery: the transports --------------------------------------------------


class Transport(Protocol):
    """Takes committed events on to their subscribers. ``send`` returning means every
    envelope is safely handed on (applied, recorded as failed, or accepted by the broker);
    raising means none is, and the outbox keeps them for the next round."""

    async def send(self, envelopes: Sequence[Envelope]) -> None: ...


class LocalDelivery:
    """The embedded default: apply each event to its subscribers here, in order."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory

    async def send(self, envelopes: Sequence[Envelope]) -> None:
        for env in envelopes:
            for sub in subscribers_of(env.topic):
                # Each apply is a unit of work of its own, which hands the SQLite write
                # connection to a waiting writer when it ends (core.uow, ADR 0005).
                await apply(self._factory, sub, env)


# --- the dispatcher ------------------------------------------------------------------


class Dispatcher:
    """Hands committed events to the transport and retries failed deliveries; one per
    process that does background work (with ``use_skip_locked`` several can share a
    PostgreSQL database)."""

    def __init__(
        self,
        write_factory: async_sessionmaker[AsyncSession],
        *,
        poll_seconds: float = 0.5,
        batch_size: int = 100,
        use_skip_locked: bool = False,
        transport: Transport | None = None,
        retries: bool = True,
    ) -> None:
        self._factory = write_factory
        self._poll = poll_seconds
        self._batch = batch_size
        self._skip_locked = use_skip_locked
        self._transport: Transport = transport or LocalDelivery(write_factory)
        self._retries = retries
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def _claim(self) -> list[OutboxEvent]:
        """Due events, leased: a process that dies holding them gives them back in ``LEASE``."""
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

    async def relay_due(self) -> int:
        """Hand one batch of committed events to the transport; returns how many."""
        return await self.hand_on(await self._claim(), self._transport)

    async def hand_on(
        self,
        rows: Sequence[OutboxEvent],
        transport: Transport,
        *,
        longest_wait: timedelta | None = None,
    ) -> int:
        """Send claimed ``rows`` through ``transport`` and mark them done; if it fails (the
        broker is away), they stay pending with the reason and a backoff (at most
        ``longest_wait``), oldest first. Returns how many were handed on."""
        if not rows:
            return 0
        ids = [row.id for row in rows]
        try:
            await transport.send([envelope_of(row) for row in rows])
        except Exception as exc:  # the events wait in the outbox
            log.warning(
                "event relay of %d events failed: %s: %s", len(rows), type(exc).__name__, exc
            )
            wait = backoff(min(row.attempts for row in rows))
            if longest_wait is not None:
                wait = min(wait, longest_wait)
            async with UnitOfWork(self._factory) as uow:
                await uow.session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_(ids))
                    .values(
                        available_at=clock.now() + wait,
                        last_error=escaped(f"{type(exc).__name__}: {exc}")[:2000],
                    )
                )
                await uow.commit()
            return 0
        async with UnitOfWork(self._factory) as uow:
            await uow.session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(ids))
                .values(status="done", dispatched_at=clock.now(), last_error=None)
            )
            await uow.commit()
        return len(rows)

    async def _claim_retries(self) -> list[tuple[EventDelivery, OutboxEvent]]:
        async with UnitOfWork(self._factory) as uow:
            now = clock.now()
            stmt = (
                select(EventDelivery, OutboxEvent)
                .join(OutboxEvent, OutboxEvent.id == EventDelivery.event_id)
                .where(EventDelivery.status == "pending", EventDelivery.available_at <= now)
                .order_by(EventDelivery.event_id)
                .limit(self._batch)
            )
            if self._skip_locked:
                stmt = stmt.with_for_update(of=EventDelivery, skip_locked=True)
            pairs = [(d, e) for d, e in (await uow.session.execute(stmt)).all()]
            for delivery, _ in pairs:
                delivery.attempts += 1
                delivery.available_at = now + LEASE
            await uow.commit()
            return pairs

    async def retry_due(self) -> int:
        """Apply one batch of deliveries whose backoff is over; returns how many ran."""
        pairs = await self._claim_retries()
        for delivery, event in pairs:
            sub = subscriber(delivery.subscriber)
            if sub is None:  # a subscriber that no longer exists: nobody to deliver to
                await _record_failure(
                    self._factory,
                    delivery.subscriber,
                    envelope_of(event),
                    delivery.attempts,
                    LookupError(f"no subscriber named {delivery.subscriber}"),
                    dead=True,
                )
                continue
            await apply(self._factory, sub, envelope_of(event), attempt=delivery.attempts)
        return len(pairs)

    async def run_once(self) -> int:
        """One round: relay due events, then retry due deliveries; returns how many."""
        handled = await self.relay_due()
        if self._retries:
            handled += await self.retry_due()
        return handled

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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

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


# --- dead letters --------------------------------------------------------------------


async def dead_deliveries(
    session: AsyncSession, *, subscriber_name: str | None = None, limit: int = 500
) -> list[tuple[EventDelivery, OutboxEvent]]:
    """Dead deliveries, oldest first, with their events (one subscriber's, or all)."""
    stmt = (
        select(EventDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == EventDelivery.event_id)
        .where(EventDelivery.status == "dead")
        .order_by(EventDelivery.id)
        .limit(limit)
    )
    if subscriber_name is not None:
        stmt = stmt.where(EventDelivery.subscriber == subscriber_name)
    return [(d, e) for d, e in (await session.execute(stmt)).all()]


async def retry_dead(session: AsyncSession, delivery_ids: Sequence[int]) -> int:
    """Give dead deliveries a fresh set of attempts, due now; returns how many."""
    if not delivery_ids:
        return 0
    result = await session.execute(
        update(EventDelivery)
        .where(and_(EventDelivery.id.in_(list(delivery_ids)), EventDelivery.status == "dead"))
        .values(status="pending", attempts=0, available_at=clock.now())
    )
    session.info["outbox_dirty"] = True
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def settle_dead(session: AsyncSession, delivery_id: int, why: str) -> None:
    """Mark a dead delivery handled by other means (a sweep that gave up for good)."""
    await session.execute(
        update(EventDelivery)
        .where(EventDelivery.id == delivery_id, EventDelivery.status == "dead")
        .values(status="settled", done_at=clock.now(), last_error=why[:2000])
    )
