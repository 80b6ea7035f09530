"""Events through NATS JetStream in production (docs/adr/0009-event-broker.md).

With ``event_broker_url`` set, ``loopmall worker`` processes do the background work:

* one of them (the holder of a PostgreSQL advisory lock) **relays** committed outbox rows to
  the stream, oldest first, each published with ``Nats-Msg-Id`` = the event's id so that a
  relay which crashes between publishing and marking its rows done adds no copies;
* every one of them **consumes**: a durable pull consumer per subscriber (one per partition
  for an ordered subscriber, with one message in flight at a time), each message applied with
  :func:`~loopmall.core.outbox.apply` and acknowledged after it returns;
* every one of them **retries** failed deliveries from the ``event_deliveries`` table and runs
  the periodic jobs.

The broker only carries first deliveries: idempotency, failures, backoff and dead letters stay
in the database, where ``apply`` records them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import api as js_api
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from loopmall.config import Settings
from loopmall.core import clock, jobs
from loopmall.core.events import BadPayload, Envelope, Subscriber, all_subscribers, subscriber
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import LEASE, Dispatcher, apply, envelope_of
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork

log = logging.getLogger(__name__)

MSG_ID = "Nats-Msg-Id"
# One key for the relay's advisory lock ("loopmall relay" in ASCII, fits a bigint).
RELAY_LOCK_KEY = 0x6C6D72656C6179
# After a failed publish the rows wait at most this long: events flow again within seconds
# of the broker coming back, however long it was away.
MAX_RELAY_BACKOFF = timedelta(seconds=10)
# How often a worker sweeps due retries and, when it does not lead, tries for the lead.
SLOW_ROUND_SECONDS = 0.5
# A message whose apply could not reach the database comes back after this long.
NAK_DELAY_SECONDS = 2.0
PUBLISH_TIMEOUT_SECONDS = 10.0
# A pull waits this long for messages (the server answers at once when one comes): longer
# means fewer idle requests from the many consumer loops of every worker.
FETCH_TIMEOUT_SECONDS = 5.0
# Loops pulling side by side from one unordered consumer, in each worker.
UNORDERED_PULLERS = 4
UNORDERED_MAX_ACK_PENDING = 1000
STREAM_MAX_AGE_SECONDS = 7 * 24 * 3600.0
DUPLICATE_WINDOW_SECONDS = 120.0


# --- the layout: subjects, partitions, consumers --------------------------------------


@dataclass(frozen=True, slots=True)
class Layout:
    """Where events go on the broker: one stream, subjects ``<prefix>.<partition>.<topic>``."""

    stream: str = "LOOPMALL_EVENTS"
    prefix: str = "loopmall.ev"
    partitions: int = 8
    ack_wait_seconds: float = 30.0

    @classmethod
    def of(cls, settings: Settings) -> Layout:
        return cls(
            stream=settings.event_broker_stream,
            prefix=settings.event_broker_subject_prefix,
            partitions=settings.event_broker_partitions,
            ack_wait_seconds=settings.event_broker_ack_wait_seconds,
        )

    def partition(self, env: Envelope) -> int:
        """An aggregate always lands in the same partition; other events spread by id."""
        key = env.aggregate or f"event:{env.id}"
        return zlib.crc32(key.encode()) % self.partitions

    def subject(self, env: Envelope) -> str:
        return f"{self.prefix}.{self.partition(env)}.{env.topic}"

    def consumers(self, subscribers: Sequence[Subscriber[Any]]) -> list[ConsumerSpec]:
        """The durable consumers for ``subscribers``: one for an unordered subscriber (all
        partitions), one per partition for an ordered one."""
        specs: list[ConsumerSpec] = []
        for sub in subscribers:
            base = "lm_" + sub.name.replace(".", "_").replace("*", "_").replace(">", "_")
            if not sub.ordered:
                specs.append(
                    ConsumerSpec(
                        base, f"{self.prefix}.*.{sub.topic}", sub.name, UNORDERED_MAX_ACK_PENDING
                    )
                )
                continue
            for p in range(self.partitions):
                specs.append(
                    ConsumerSpec(f"{base}__p{p}", f"{self.prefix}.{p}.{sub.topic}", sub.name, 1)
                )
        durables = [s.durable for s in specs]
        if len(set(durables)) != len(durables):
            raise RuntimeError(f"two subscribers map to one consumer name: {sorted(durables)}")
        return specs


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    durable: str
    filter_subject: str
    subscriber: str
    max_ack_pending: int  # 1: strictly one at a time, in stream order

    @property
    def ordered(self) -> bool:
        return self.max_ack_pending == 1


# --- the connection ------------------------------------------------------------------


class JetStream:
    """One connection to NATS with its JetStream context, reconnecting for ever."""

    def __init__(self, nc: NATS, layout: Layout) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=PUBLISH_TIMEOUT_SECONDS)
        self.layout = layout

    @classmethod
    async def connect(cls, url: str, layout: Layout, *, name: str = "loopmall") -> JetStream:
        async def disconnected() -> None:
            log.warning("event broker: disconnected")

        async def reconnected() -> None:
            log.warning("event broker: reconnected")

        async def error(exc: Exception) -> None:
            log.warning("event broker: %s: %s", type(exc).__name__, exc)

        nc = await nats.connect(
            url,
            name=name,
            connect_timeout=2,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
        )
        return cls(nc, layout)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.nc.close()

    async def ensure_stream(self) -> None:
        """Create the stream unless it exists (an existing stream is left as it is)."""
        try:
            await self.js.stream_info(self.layout.stream)
            return
        except nats.js.errors.NotFoundError:
            pass
        config = js_api.StreamConfig(
            name=self.layout.stream,
            subjects=[f"{self.layout.prefix}.>"],
            # Limits, not interest: a message stays until max_age whatever its consumers did
            # (interest retention lost a few acked-by-one messages across a server restart
            # in the broker tests on nats-server 2.9).
            retention=js_api.RetentionPolicy.LIMITS,
            storage=js_api.StorageType.FILE,
            max_age=STREAM_MAX_AGE_SECONDS,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )
        with contextlib.suppress(nats.js.errors.BadRequestError):  # another process won the race
            await self.js.add_stream(config)

    async def ensure_consumers(self, specs: Sequence[ConsumerSpec]) -> None:
        """Create each durable consumer unless it exists (existing ones keep their place)."""
        for spec in specs:
            try:
                await self.js.consumer_info(self.layout.stream, spec.durable)
                continue
            except nats.js.errors.NotFoundError:
                pass
            config = js_api.ConsumerConfig(
                name=spec.durable,
                durable_name=spec.durable,
                filter_subject=spec.filter_subject,
                ack_policy=js_api.AckPolicy.EXPLICIT,
                # From its creation on: a subscriber added later is not handed the days of
                # events the stream still holds (as in-process: it gets what comes after it).
                deliver_policy=js_api.DeliverPolicy.NEW,
                ack_wait=self.layout.ack_wait_seconds,
                max_ack_pending=spec.max_ack_pending,
                max_deliver=-1,
            )
            with contextlib.suppress(nats.js.errors.BadRequestError):
                await self.js.add_consumer(self.layout.stream, config)

    async def ensure(self, specs: Sequence[ConsumerSpec]) -> None:
        await self.ensure_stream()
        await self.ensure_consumers(specs)

    async def lag(self, specs: Sequence[ConsumerSpec]) -> dict[str, int]:
        """Messages each consumer has not had acknowledged yet (waiting + in flight)."""
        found: dict[str, int] = {}
        for spec in specs:
            info = await self.js.consumer_info(self.layout.stream, spec.durable)
            found[spec.durable] = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        return found


# --- relaying ------------------------------------------------------------------------


class JetStreamTransport:
    """``Transport.send`` to JetStream: publish every envelope, in order, then wait for every
    acknowledgement; raising means the batch stays in the outbox."""

    def __init__(self, broker: JetStream) -> None:
        self._broker = broker

    async def send(self, envelopes: Sequence[Envelope]) -> None:
        layout = self._broker.layout
        if not self._broker.nc.is_connected:
            # Fail at once rather than buffer until the publish timeout: the rows keep their
            # place in the outbox and the relay tries again after a short backoff.
            raise ConnectionError("the event broker is not connected")
        futures = []
        # Pipelined: each publish goes on the wire in call order, the acks are awaited after.
        for env in envelopes:
            futures.append(
                await self._broker.js.publish_async(
                    layout.subject(env),
                    env.to_json(),
                    headers={MSG_ID: str(env.id)},
                    wait_stall=PUBLISH_TIMEOUT_SECONDS,
                )
            )
        try:
            acks = await asyncio.wait_for(asyncio.gather(*futures), PUBLISH_TIMEOUT_SECONDS)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        for ack in acks:
            if ack.stream != layout.stream:
                raise RuntimeError(f"published to {ack.stream}, expected {layout.stream}")


class RelayLead:
    """Who relays: the holder of a PostgreSQL session advisory lock, on a connection of its
    own. A holder that dies closes its connection, which frees the lock for the next."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    @property
    def leads(self) -> bool:
        return self._conn is not None

    async def check(self) -> tuple[bool, bool]:
        """(leads now, has just taken the lead)."""
        if self._conn is not None:
            try:
                # Every round: the lock is ours only while this connection lives (one query
                # on a connection already held, no pool checkout).
                await self._conn.execute(text("SELECT 1"))
                return True, False
            except Exception:
                log.warning("event relay: lost the lead's connection")
                await self.release()
        conn = await self._engine.connect()
        try:
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": RELAY_LOCK_KEY})
            await conn.commit()
        except Exception:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False, False
        self._conn = conn
        return True, True

    async def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.close()


class JetStreamRelay(Dispatcher):
    """The dispatcher of a ``loopmall worker`` with a broker: relays when it leads, always
    retries due deliveries from the table."""

    def __init__(
        self,
        write_factory: async_sessionmaker[AsyncSession],
        engine: AsyncEngine,
        transport: JetStreamTransport,
        *,
        poll_seconds: float = 0.1,
        batch_size: int = 200,
    ) -> None:
        super().__init__(
            write_factory,
            poll_seconds=poll_seconds,
            batch_size=batch_size,
            use_skip_locked=True,
            transport=transport,
        )
        self._lead = RelayLead(engine)
        self._relay_transport = transport
        self._next_slow_round = 0.0

    async def run_once(self) -> int:
        """The relay every poll (0.1 s: an event's first hop); the retry sweep and, for a
        worker that does not lead, the try for the lead only every ``SLOW_ROUND``: a worker
        idles cheaply, so more workers do not mean more polling than work."""
        now = time.monotonic()
        slow = now >= self._next_slow_round
        if slow:
            self._next_slow_round = now + SLOW_ROUND_SECONDS
        handled = await self.relay_due() if (slow or self._lead.leads) else 0
        if slow:
            handled += await self.retry_due()
        return handled

    async def relay_due(self) -> int:
        leads, just_took = await self._lead.check()
        if not leads:
            return 0
        if just_took:
            await self._take_over()
        return await self._relay_head()

    async def _take_over(self) -> None:
        """Rows a dead leader had leased are due now, so newer rows cannot overtake them."""
        async with UnitOfWork(self._factory) as uow:
            await uow.session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.status == "pending", OutboxEvent.available_at > clock.now())
                .values(available_at=clock.now())
            )
            await uow.commit()
        log.info("event relay: this worker leads (pid %s)", os.getpid())

    async def _relay_head(self) -> int:
        """Send the oldest pending rows in id order; wait while the oldest is backing off."""
        async with UnitOfWork(self._factory) as uow:
            now = clock.now()
            rows = list(
                (
                    await uow.session.scalars(
                        select(OutboxEvent)
                        .where(OutboxEvent.status == "pending")
                        .order_by(OutboxEvent.id)
                        .limit(self._batch)
                    )
                ).all()
            )
            if not rows or rows[0].available_at > now:
                return 0
            for row in rows:
                row.attempts += 1
                row.available_at = now + LEASE
            await uow.commit()
        # The rows wait, oldest first, while the broker is away.
        return await self.hand_on(rows, self._relay_transport, longest_wait=MAX_RELAY_BACKOFF)

    async def stop(self) -> None:
        await super().stop()
        await self._lead.release()


# --- consuming -----------------------------------------------------------------------


async def _envelope_from_outbox(
    factory: async_sessionmaker[AsyncSession], raw_id: str | None
) -> Envelope | None:
    try:
        event_id = int(raw_id or "")
    except ValueError:
        return None
    async with factory() as session:
        row = await session.get(OutboxEvent, event_id)
        return envelope_of(row) if row is not None else None


async def handle_message(
    factory: async_sessionmaker[AsyncSession], sub: Subscriber[Any], msg: Msg
) -> str:
    """Apply one message to ``sub`` and settle it with the broker; returns what happened
    (``applied``/``duplicate``/``failed``/``dead``/``waiting``, ``terminated``, ``retry``)."""
    try:
        env = Envelope.from_json(msg.data)
    except BadPayload as exc:
        # The wire copy is damaged; the outbox row it names is the truth.
        env_or_none = await _envelope_from_outbox(factory, (msg.headers or {}).get(MSG_ID))
        if env_or_none is None:
            log.error("event broker: a message that names no event of ours, dropped: %s", exc)
            await msg.term()
            return "terminated"
        env = env_or_none
    try:
        attempt = max(1, int(msg.metadata.num_delivered or 1))
    except Exception:  # a message not from a consumer (tests): first delivery
        attempt = 1
    try:
        outcome = await apply(factory, sub, env, attempt=attempt)
    except Exception:
        # The database itself failed: nothing was recorded, so the broker must send it again.
        log.exception("event %s for %s: database unavailable, redelivering", env.id, sub.name)
        with contextlib.suppress(Exception):
            await msg.nak(delay=NAK_DELAY_SECONDS)
        return "retry"
    # Whatever apply says is now in the database (failures retry from there): acknowledge.
    await msg.ack()
    return outcome.value


async def _consume(
    factory: async_sessionmaker[AsyncSession],
    broker: JetStream,
    spec: ConsumerSpec,
    slots: asyncio.Semaphore,
) -> None:
    """Pull one message at a time from ``spec`` and settle it. (A pull for a batch waits,
    once its first message is in, until the batch is full or the pull expires, which would
    hold sparse events back for seconds: side-by-side pullers of one message each instead.)"""
    sub = subscriber(spec.subscriber)
    assert sub is not None
    psub = None
    while True:
        try:
            if psub is None:
                psub = await broker.js.pull_subscribe_bind(
                    durable=spec.durable, stream=broker.layout.stream
                )
            msgs = await psub.fetch(1, timeout=FETCH_TIMEOUT_SECONDS)
        except asyncio.CancelledError:
            raise
        except TimeoutError:  # nothing came within the long poll (nats' own is one too)
            continue
        except Exception as exc:  # the broker is away: try again shortly
            log.warning("consumer %s: %s: %s", spec.durable, type(exc).__name__, exc)
            await asyncio.sleep(0.5)
            continue
        for msg in msgs:
            async with slots:
                try:
                    await handle_message(factory, sub, msg)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database or the broker failed mid-message: it comes back
                    log.exception("consumer %s: message not settled", spec.durable)


def start_consumers(
    factory: async_sessionmaker[AsyncSession],
    broker: JetStream,
    specs: Sequence[ConsumerSpec],
    *,
    concurrency: int = 8,
    pullers: int = UNORDERED_PULLERS,
) -> list[asyncio.Task[None]]:
    """Pulling loops: one per ordered consumer (it hands out one message at a time anyway),
    ``pullers`` per unordered one; at most ``concurrency`` messages applied at once in this
    process (each holds a database connection)."""
    slots = asyncio.Semaphore(concurrency)
    return [
        asyncio.create_task(_consume(factory, broker, spec, slots), name=f"consume:{spec.durable}")
        for spec in specs
        for _ in range(1 if spec.ordered else pullers)
    ]


# --- the worker ----------------------------------------------------------------------


def extra_modules(settings: Settings) -> list[str]:
    return [m.strip() for m in settings.extra_handler_modules.split(",") if m.strip()]


def load_handlers(settings: Settings, modules: Sequence[str]) -> None:
    for name in [*modules, *extra_modules(settings)]:
        importlib.import_module(name)


async def connect_when_up(settings: Settings, layout: Layout, *, name: str) -> JetStream:
    """Connect, waiting for a broker that is not up yet."""
    while True:
        try:
            return await JetStream.connect(settings.event_broker_url, layout, name=name)
        except (OSError, nats.errors.Error, TimeoutError) as exc:
            log.warning("event broker unreachable (%s): trying again", exc)
            await asyncio.sleep(1.0)


class Worker:
    """What ``loopmall worker`` runs: with a broker the relay (when it leads), the
    consumers and the retries; without one the in-process dispatcher; the periodic jobs."""

    def __init__(self, settings: Settings, *, periodic: bool = True) -> None:
        self.settings = settings
        self.periodic = periodic
        self.state: AppState | None = None
        self.broker: JetStream | None = None
        self.specs: list[ConsumerSpec] = []
        self._dispatcher: Dispatcher | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        settings = self.settings
        state = self.state = AppState.build(settings)
        if settings.event_broker_url:
            layout = Layout.of(settings)
            self.specs = layout.consumers(all_subscribers())
            broker = self.broker = await connect_when_up(
                settings, layout, name=f"loopmall-worker-{os.getpid()}"
            )
            # Before the first publish: a consumer gets the messages published after it
            # exists.
            await broker.ensure(self.specs)
            self._dispatcher = JetStreamRelay(
                state.write_factory,
                state.engine,
                JetStreamTransport(broker),
                poll_seconds=settings.event_relay_poll_seconds,
            )
            # Half the pool for applying messages: the relay, the retries and the periodic
            # jobs keep connections of their own.
            concurrency = max(2, settings.db_pool_size // 2)
            self._tasks += start_consumers(
                state.write_factory, broker, self.specs, concurrency=concurrency
            )
        else:
            self._dispatcher = Dispatcher(
                state.write_factory,
                poll_seconds=settings.outbox_poll_seconds,
                use_skip_locked=not state.is_sqlite,
            )
        self._dispatcher.start()
        if self.periodic:
            self._tasks += jobs.start_all(state)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._dispatcher is not None:
            await self._dispatcher.stop()
        if self.broker is not None:
            await self.broker.close()
        if self.state is not None:
            await self.state.close()
