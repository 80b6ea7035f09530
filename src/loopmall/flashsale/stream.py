"""The stream consumer: accepted requests (the Redis gate's stream) become orders.

One consumer group (``orders``) per sale stream; any number of consumers (app processes'
job, ``loopmall flashsale-consumer``), each with its own name. A consumer reads up to
``flashsale_batch`` entries (``XREADGROUP``), turns them into tickets and orders with
``materialize`` in one transaction, commits, and only then acknowledges them (``XACK``): an
entry whose consumer died before the commit stays pending, and after ``claim_idle_ms``
another consumer takes it over (``XAUTOCLAIM``). ``materialize`` is idempotent per request
id, so an entry whose consumer died between the commit and the XACK changes nothing the
second time. A request the database refuses (which Redis and the database agreeing makes
impossible, but a repaired Redis may not) is undone in Redis (``gate_redis.unaccept``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.jobs import periodic
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale.gate_redis import GROUP, SaleKeys, ensure_group, unaccept
from loopmall.flashsale.models import FlashSale
from loopmall.merchants.models import Merchant

log = logging.getLogger(__name__)

PRELOAD = timedelta(minutes=10)  # load a sale into Redis this long before it starts
KEEP = timedelta(days=1)  # keep reading a sale's stream this long after it ended
REFRESH_SECONDS = 2.0
EXTRAS_KEY = "flashsale.consumer"


@dataclass(frozen=True, slots=True)
class Watched:
    tenant: Tenant
    sale_id: int
    stream: str


@dataclass
class ConsumerStats:
    batches: int = 0
    entries: int = 0
    ordered: int = 0
    refused: int = 0
    claimed: int = 0
    failures: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class StreamConsumer:
    def __init__(
        self,
        state: AppState,
        *,
        name: str | None = None,
        batch: int | None = None,
        block_ms: int = 1000,
        claim_idle_ms: int = 15_000,
    ) -> None:
        if state.redis is None:
            raise RuntimeError("the stream consumer needs Redis (LOOPMALL_REDIS_URL)")
        self.state = state
        self.redis = state.redis
        self.prefix = state.settings.redis_prefix
        self.name = name or consumer_name()
        self.batch = batch or state.settings.flashsale_batch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.stats = ConsumerStats()
        self._watched: dict[str, Watched] = {}
        self._refreshed = -1e9
        self._claimed_at = -1e9
        self._own_pending = True  # after a start or a failure: our own unacknowledged first

    async def refresh(self, *, force: bool = False) -> dict[str, Watched]:
        """The streams of the Redis-gate sales that are live, about to start, or recently
        ended; a sale about to start is loaded into Redis now, not by the first buyer."""
        tick = time.monotonic()
        if not force and tick - self._refreshed < REFRESH_SECONDS:
            return self._watched
        self._refreshed = tick
        now = clock.now()
        async with UnitOfWork(self.state.read_factory) as uow:
            rows = await uow.session.execute(
                select(FlashSale.id, FlashSale.merchant_id, Merchant.slug)
                .join(Merchant, Merchant.id == FlashSale.merchant_id)
                .where(
                    FlashSale.gate == "redis",
                    FlashSale.status == "active",
                    FlashSale.starts_at <= now + PRELOAD,
                    FlashSale.ends_at >= now - KEEP,
                )
            )
            found = [
                Watched(Tenant(mid, slug), sid, SaleKeys(self.prefix, sid).stream)
                for sid, mid, slug in rows
            ]
        from loopmall.flashsale.reconcile import load_if_missing

        for w in found:
            if w.stream not in self._watched:
                await load_if_missing(self.state, w.tenant, w.sale_id)
                await ensure_group(self.redis, w.stream)
        self._watched = {w.stream: w for w in found}
        return self._watched

    async def run_once(self) -> int:
        """One round: our own pending entries (after a restart or a failure), the idle
        entries of dead consumers, then new entries (blocking up to ``block_ms``). Answers
        how many entries were settled."""
        watched = await self.refresh()
        if not watched:
            await asyncio.sleep(self.block_ms / 1000)
            return 0
        settled = 0
        if self._own_pending:
            self._own_pending = False
            settled += await self._read({s: "0" for s in watched}, block=None)
        tick = time.monotonic()
        if tick - self._claimed_at >= self.claim_idle_ms / 2000:
            self._claimed_at = tick
            settled += await self._claim(watched)
        settled += await self._read({s: ">" for s in watched}, block=self.block_ms)
        return settled

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis or the database away for a moment: try again
                self.stats.failures += 1
                self._own_pending = True
                log.exception("flash-sale consumer %s failed a round", self.name)
                await asyncio.sleep(1.0)

    async def _read(self, streams: dict[str, str], *, block: int | None) -> int:
        replies = await self.redis.xreadgroup(
            GROUP, self.name, streams, count=self.batch, block=block
        )
        settled = 0
        for stream, entries in replies or []:
            if entries:
                settled += await self._settle(self._watched[stream], entries)
        return settled

    async def _claim(self, watched: dict[str, Watched]) -> int:
        settled = 0
        for stream, w in watched.items():
            start = "0-0"
            while True:
                reply = await self.redis.xautoclaim(
                    stream, GROUP, self.name, self.claim_idle_ms, start_id=start, count=self.batch
                )
                start, entries = reply[0], reply[1]
                if entries:
                    self.stats.claimed += len(entries)
                    settled += await self._settle(w, entries)
                if start in ("0-0", b"0-0"):
                    break
        return settled

    async def _settle(self, w: Watched, entries: list[tuple[str, dict[str, str] | None]]) -> int:
        from loopmall.flashsale.materialize import BuyRequest, OutcomeStatus, materialize

        requests = []
        for _entry_id, fields in entries:
            if fields:  # an entry deleted from the stream comes back empty: just acknowledge it
                requests.append(
                    BuyRequest(
                        request_id=fields["r"],
                        customer_id=int(fields["c"]),
                        quantity=int(fields["q"]),
                        accepted_at=datetime.fromtimestamp(int(fields["t"]) / 1000, UTC),
                    )
                )
        outcomes = []
        if requests:
            async with UnitOfWork(self.state.write_factory) as uow:
                outcomes = await materialize(uow.session, w.tenant, w.sale_id, requests)
                await uow.commit()
        by_id = {r.request_id: r for r in requests}
        refused = [
            (o.request_id, by_id[o.request_id].customer_id, by_id[o.request_id].quantity)
            for o in outcomes
            if o.status != OutcomeStatus.ORDERED
        ]
        if refused:
            log.warning(
                "flash sale %s: the database refused %d accepted requests", w.sale_id, len(refused)
            )
            await unaccept(self.redis, self.prefix, w.sale_id, refused)
        await self.redis.xack(w.stream, GROUP, *[entry_id for entry_id, _f in entries])
        self.stats.batches += 1
        self.stats.entries += len(entries)
        self.stats.refused += len(refused)
        self.stats.ordered += len(outcomes) - len(refused)
        return len(entries)


async def run_consumer(
    settings: Settings, *, name: str | None = None, claim_idle_ms: int = 15_000
) -> None:
    """``loopmall flashsale-consumer``: one consumer until the process is stopped."""
    state = AppState.build(settings)
    consumer = StreamConsumer(state, name=name, claim_idle_ms=claim_idle_ms)
    log.info("flash-sale consumer %s reading (batch %d)", consumer.name, consumer.batch)
    try:
        await consumer.run()
    finally:
        await state.close()


@periodic("flashsale.stream", lambda settings: 0.0)
async def consume(state: AppState) -> int:
    """In-process consumer (embedded default and ``loopmall worker``) when Redis is set."""
    if state.redis is None:
        await asyncio.sleep(state.settings.flashsale_sweep_seconds)
        return 0
    consumer = state.extras.get(EXTRAS_KEY)
    if consumer is None:
        consumer = state.extras[EXTRAS_KEY] = StreamConsumer(state)
    try:
        return await consumer.run_once()
    except Exception:  # keep the job's loop from spinning on a Redis or database outage
        consumer._own_pending = True
        log.exception("flash-sale consumer %s failed a round", consumer.name)
        await asyncio.sleep(1.0)
        return 0
