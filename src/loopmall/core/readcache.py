"""The storefront's read cache: what is the same for every visitor, kept per merchant and
forgotten the moment a typed event says it changed (issue #13, ADR 0010).

What is cached is split into **areas** (:data:`AREAS`): ``catalog`` (products, SKUs, prices,
categories), ``mall`` (the mall's settings, blocks and look), ``stores`` (store hours and
addresses) and ``stock`` (online and in-store availability). Each (merchant, area) has a
**generation**, a random token; every cached value is keyed by the generations of the areas
it was built from. Invalidating an area makes a new generation: the old values are never
looked up again and age out of the caches on their own, so there is no delete to race with.

Where things live:

- Embedded default (no Redis): generations and values in this process.
- Production (Redis configured): generations in Redis, one hash per merchant, read once per
  request for every area the page needs (:meth:`ReadCache.view`, one ``HMGET``); values in
  this process (L1, an LRU) and in Redis (L2, with a TTL) so app processes share what one
  of them built. A generation Redis lost (flushed, restarted) is made anew with ``HSETNX``:
  the values cached under the old one are never used again — rebuilt, never wrong. Redis
  unreachable: the view reads through to the database (logged once), never an error.

Invalidation: :func:`invalidates` declares which areas an event type empties. When a unit of
work commits, the events it published bump those generations at once, in the request that
made the change (``core.outbox.after_commit``), so the next request — in this process or
any other — sees the change. The same declaration subscribes a durable outbox handler that
bumps them again: it covers a process that died between its commit and its bump, and a bump
that could not reach Redis.

Keys are short strings the caller makes from bounded parts (ids, a page cursor), never from
raw query strings: :data:`KEY_MAX` characters at most, and the LRU holds at most
``max_bytes`` of values whatever visitors send.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import secrets
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, cast, get_args

import orjson
from cachetools import TLRUCache
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loopmall.config import Settings
from loopmall.core.events import Event, subscribe
from loopmall.core.outbox import after_commit
from loopmall.core.tenancy import Tenant

log = logging.getLogger(__name__)

Area = Literal["catalog", "mall", "stores", "stock"]
AREAS: Final[tuple[Area, ...]] = get_args(Area)
KEY_MAX: Final = 120

# Where a session finds the cache of the app that made it (``core.state`` puts it there).
SESSION_KEY: Final = "loopmall.readcache"

# What a failure to reach Redis looks like: the client's own errors, a refused or reset
# socket, and our own deadline.
_REDIS_DOWN = (RedisError, OSError, TimeoutError)
# After Redis failed, requests read through to the database this long before trying again,
# so a Redis that hangs costs one deadline a second, not one per request.
_RETRY_AFTER_SECONDS: Final = 1.0

T = TypeVar("T")


@functools.cache
def code_fingerprint() -> str:
    """A short hash of the app's own source files. Values shared through Redis are filed
    under it: the code that builds them decides their shape, so after a deploy a process
    never reads a value an older (or newer) build made — a changed shape would be misread,
    and a value without a field the new templates use shows stale (a store card without
    its link). Generations stay shared: an invalidation reaches every build."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha1(usedforsecurity=False)
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


class BuildAbandoned(Exception):
    """The request building a value was cancelled; those waiting for it build their own."""


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Any
    ttl: float
    size: int  # its JSON's bytes, and what an entry costs besides


def _expires(_key: Any, entry: _Entry, now: float) -> float:
    return now + entry.ttl


def _size(entry: _Entry) -> int:
    return entry.size


# What an entry costs besides its value (key tuple, entry, LRU links), roughly: with it the
# byte cap also caps how many tiny values are kept.
ENTRY_OVERHEAD: Final = 256


def _token() -> str:
    return secrets.token_hex(6)


def _areas(area: Area | Sequence[Area]) -> tuple[Area, ...]:
    return (area,) if isinstance(area, str) else tuple(area)


class ReadCache:
    """One per app process (``AppState.readcache``). ``redis`` is the app's asyncio client
    (``decode_responses=True``), or ``None`` for the embedded default."""

    def __init__(
        self,
        *,
        redis: Any | None = None,
        prefix: str = "loopmall:",
        max_bytes: int = 64 * 1024 * 1024,
        ttl_seconds: float = 300.0,
        stock_ttl_seconds: float = 2.0,
        redis_timeout_seconds: float = 0.25,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        if redis is not None:
            code_fingerprint()  # read the sources at start, not in a shopper's request
        self._prefix = f"{prefix}rc:"
        self._ttl: dict[str, float] = {area: ttl_seconds for area in AREAS}
        self._ttl["stock"] = stock_ttl_seconds
        self._timeout = redis_timeout_seconds
        self._timer = timer
        self._values: TLRUCache[tuple[Any, ...], _Entry] = TLRUCache(
            maxsize=max_bytes, ttu=_expires, timer=timer, getsizeof=_size
        )
        self._generations: dict[tuple[int, str], str] = {}
        self._building: dict[tuple[Any, ...], asyncio.Future[Any]] = {}
        # Bumps that could not reach Redis, sent before the next read (see ``_owed``).
        self._owed: set[tuple[int, str]] = set()
        self._down_until = 0.0
        self._down_logged = False
        # hits (L1), shared (L2), builds, read_through: for tests and the benchmark.
        self.stats: Counter[str] = Counter()
        # The app's read sessions, for builds that must begin after the generations were
        # read (``AppState.build`` sets it).
        self.read_factory: async_sessionmaker[AsyncSession] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, redis: Any | None) -> ReadCache:
        return cls(
            redis=redis,
            prefix=settings.redis_prefix,
            max_bytes=settings.readcache_max_bytes,
            ttl_seconds=settings.readcache_ttl_seconds,
            stock_ttl_seconds=settings.readcache_stock_ttl_seconds,
            redis_timeout_seconds=settings.readcache_redis_timeout_seconds,
        )

    def __len__(self) -> int:
        """Values held in this process (L1)."""
        return len(self._values)

    @property
    def held_bytes(self) -> int:
        """What the values held in this process (L1) weigh, as JSON, with their overhead."""
        return int(self._values.currsize)

    def _keep(self, full: tuple[Any, ...], value: Any, ttl: float, encoded_size: int) -> None:
        entry = _Entry(value, ttl, encoded_size + ENTRY_OVERHEAD)
        if entry.size > self._values.maxsize:
            self.stats["too_big"] += 1  # served, never kept: it would empty the whole LRU
            return
        self._values[full] = entry

    def ttl_of(self, areas: Iterable[str]) -> float:
        return min(self._ttl[area] for area in areas)

    def clear_local(self) -> None:
        """Forget the values held in this process (generations stay)."""
        self._values.clear()

    # --- generations ---------------------------------------------------------------------

    def _gen_key(self, merchant_id: int) -> str:
        return f"{self._prefix}gen:{merchant_id}"

    async def view(self, merchant_id: int, areas: Iterable[Area]) -> CacheView:
        """The current generations of ``areas`` for one merchant: one Redis round trip (or
        none on the embedded default). Build values in a session begun after this (see
        ``read_factory``): a read snapshot older than the generations could fill a new
        generation with old rows."""
        wanted = tuple(dict.fromkeys(areas))
        if self.redis is None:
            return CacheView(self, merchant_id, self._local_generations(merchant_id, wanted))
        if self._timer() < self._down_until:
            return CacheView(self, merchant_id, None)
        try:
            async with asyncio.timeout(self._timeout):
                found = await self._redis_generations(merchant_id, wanted)
        except _REDIS_DOWN as exc:
            self._note_down(exc)
            return CacheView(self, merchant_id, None)
        self._note_up()
        return CacheView(self, merchant_id, found)

    def _local_generations(self, merchant_id: int, areas: tuple[Area, ...]) -> dict[str, str]:
        return {area: self._generations.setdefault((merchant_id, area), _token()) for area in areas}

    async def _redis_generations(self, merchant_id: int, areas: tuple[Area, ...]) -> dict[str, str]:
        assert self.redis is not None
        key = self._gen_key(merchant_id)
        if self._owed:
            await self._send_owed()
        values = await self.redis.hmget(key, list(areas))
        missing = [area for area, value in zip(areas, values, strict=True) if value is None]
        if missing:
            # Never there, or lost with a flushed or restarted Redis: a fresh token, never a
            # value cached under an older one. HSETNX: of two processes at once, one wins,
            # and both read back the winner.
            pipe = self.redis.pipeline(transaction=False)
            for area in missing:
                pipe.hsetnx(key, area, _token())
            pipe.hmget(key, list(areas))
            values = (await pipe.execute())[-1]
        return dict(zip(areas, cast(list[str], values), strict=True))

    async def bump(self, merchant_id: int, areas: Iterable[str]) -> None:
        """New generations for ``areas`` of one merchant: what was cached for them is never
        served again. Raises when Redis cannot be reached; the bump is then owed and sent
        before this process's next read."""
        areas = tuple(dict.fromkeys(areas))
        for area in areas:
            self._generations[(merchant_id, area)] = _token()
        if self.redis is None or not areas:
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self.redis.hset(
                    self._gen_key(merchant_id), mapping={area: _token() for area in areas}
                )
        except _REDIS_DOWN as exc:
            self._owed.update((merchant_id, area) for area in areas)
            self._note_down(exc)
            raise
        self._note_up()

    async def _send_owed(self) -> None:
        assert self.redis is not None
        owed, self._owed = self._owed, set()
        pipe = self.redis.pipeline(transaction=False)
        for merchant_id, area in owed:
            pipe.hset(self._gen_key(merchant_id), area, _token())
        try:
            await pipe.execute()
        except BaseException:
            self._owed |= owed
            raise

    def _note_down(self, exc: BaseException) -> None:
        self._down_until = self._timer() + _RETRY_AFTER_SECONDS
        if not self._down_logged:
            self._down_logged = True
            log.warning(
                "read cache: Redis unreachable (%s: %s); reading through to the database",
                type(exc).__name__,
                exc,
            )

    def _note_up(self) -> None:
        if self._down_logged:
            self._down_logged = False
            # What this process kept while it could not see the generations may be stale.
            self.clear_local()
            log.warning("read cache: Redis answers again")

    # --- values ----------------------------------------------------------------------------

    async def _get_or_build(
        self,
        full: tuple[Any, ...],
        ttl: float,
        build: Callable[[], Awaitable[T]],
    ) -> T:
        entry = self._values.get(full)
        if entry is not None:
            self.stats["hits"] += 1
            return cast(T, entry.value)
        pending = self._building.get(full)
        if pending is not None:
            # Another request of this process is building it: a crowd on a cold page makes
            # one build, not one per visitor.
            try:
                return cast(T, await asyncio.shield(pending))
            except BuildAbandoned:
                return await build()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._building[full] = future
        try:
            value = await self._load(full, ttl, build)
        except BaseException as exc:
            failure = exc if isinstance(exc, Exception) else BuildAbandoned()
            future.set_exception(failure)
            future.exception()  # retrieved: nobody may be waiting for it
            raise
        else:
            future.set_result(value)
            return value
        finally:
            self._building.pop(full, None)

    def _l2_key(self, full: tuple[Any, ...]) -> str:
        return f"{self._prefix}v:{code_fingerprint()}:" + ":".join(str(part) for part in full)

    async def _load(
        self, full: tuple[Any, ...], ttl: float, build: Callable[[], Awaitable[T]]
    ) -> T:
        shared = await self._l2_get(full)
        if shared is not None:
            self.stats["shared"] += 1
            value = cast(T, orjson.loads(shared))
            self._keep(full, value, ttl, len(shared.encode()))
            return value
        self.stats["builds"] += 1
        built = await build()
        # Kept as JSON gives it back, in both layers: a page gets the same shapes whether the
        # value was built here, in another process, or a minute ago.
        encoded = orjson.dumps(built)
        value = cast(T, orjson.loads(encoded))
        self._keep(full, value, ttl, len(encoded))
        await self._l2_set(full, encoded, ttl)
        return value

    async def _l2_get(self, full: tuple[Any, ...]) -> str | None:
        if self.redis is None:
            return None
        try:
            async with asyncio.timeout(self._timeout):
                found = await self.redis.get(self._l2_key(full))
        except _REDIS_DOWN as exc:
            self._note_down(exc)
            return None
        return cast(str | None, found)

    async def _l2_set(self, full: tuple[Any, ...], encoded: bytes, ttl: float) -> None:
        if self.redis is None:
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self.redis.set(self._l2_key(full), encoded, px=max(int(ttl * 1000), 1))
        except _REDIS_DOWN as exc:
            self._note_down(exc)


@dataclass(frozen=True, slots=True)
class CacheView:
    """One request's look at one merchant's cache: the generations read once."""

    cache: ReadCache
    merchant_id: int
    # None: Redis could not be asked, so nothing cached can be trusted — read through.
    generations: dict[str, str] | None

    async def get_or_build(
        self,
        area: Area | Sequence[Area],
        key: str,
        build: Callable[[], Awaitable[T]],
        *,
        ttl: float | None = None,
    ) -> T:
        """The value cached under ``key`` in ``area`` (or in several areas at once: then it
        is forgotten when any of them changes), else ``await build()`` — an async function
        returning plain JSON data — cached and returned. The value is shared: do not change
        it. Raises ``ValueError`` for a key too long or an area the view did not read."""
        areas = _areas(area)
        if len(key) > KEY_MAX:
            raise ValueError(f"read cache key longer than {KEY_MAX} characters")
        if self.generations is None:
            self.cache.stats["read_through"] += 1
            return await build()
        try:
            stamp = tuple(f"{a}.{self.generations[a]}" for a in areas)
        except KeyError as exc:
            raise ValueError(f"area {exc} was not read by this view") from None
        longest = self.cache.ttl_of(areas)
        lifetime = longest if ttl is None else min(ttl, longest)
        full = (self.merchant_id, *stamp, key)
        return await self.cache._get_or_build(full, lifetime, build)


async def get_or_build(
    cache: ReadCache,
    merchant_id: int,
    area: Area | Sequence[Area],
    key: str,
    build: Callable[[], Awaitable[T]],
    *,
    ttl: float | None = None,
) -> T:
    """One value, for a caller that needs only one: ``view`` + ``get_or_build``."""
    view = await cache.view(merchant_id, _areas(area))
    return await view.get_or_build(area, key, build, ttl=ttl)


def cache_of(session: AsyncSession) -> ReadCache | None:
    """The read cache of the app whose session factory made ``session``."""
    found = session.info.get(SESSION_KEY)
    return found if isinstance(found, ReadCache) else None


# --- invalidation by typed events ---------------------------------------------------------

_rules: dict[type[Event], tuple[Area, ...]] = {}


def areas_for(event: Event) -> tuple[Area, ...]:
    """The areas ``event`` empties (none for an event no rule names)."""
    return _rules.get(type(event), ())


def invalidates(event_cls: type[Event], *, area: Area | Sequence[Area]) -> None:
    """Declare that a committed ``event_cls`` empties ``area`` (one or several) of its
    merchant's cache: bumped right after the commit in the process that made the change,
    and again by a durable outbox subscriber (``readcache.<topic>``)."""
    areas = _areas(area)
    unknown = [a for a in areas if a not in AREAS]
    if unknown:
        raise ValueError(f"unknown read cache areas {unknown}")
    _rules[event_cls] = areas

    async def bump_durably(session: AsyncSession, tenant: Tenant, event: Event) -> None:
        cache = cache_of(session)
        if cache is not None:
            # Raises when Redis is away: the delivery is retried until the bump lands.
            await cache.bump(tenant.id, areas)

    bump_durably.__qualname__ = f"readcache.bump[{event_cls.topic}]"
    # The subscriber belongs to the module that declared it (a domain's ``handlers``), where
    # the event catalogue looks for every subscriber.
    caller = sys._getframe(1).f_globals.get("__name__")
    bump_durably.__module__ = caller if isinstance(caller, str) else __name__
    subscribe(event_cls, f"readcache.{event_cls.topic}")(bump_durably)


async def _bump_after_commit(session: AsyncSession, events: Sequence[Event]) -> None:
    cache = cache_of(session)
    if cache is None:
        return
    wanted: dict[int, dict[Area, None]] = {}
    for event in events:
        for area in areas_for(event):
            wanted.setdefault(event.merchant_id, {})[area] = None
    for merchant_id, areas in wanted.items():
        try:
            await cache.bump(merchant_id, areas)
        except _REDIS_DOWN:
            # The change committed and the answer must go out: the bump is owed (sent before
            # this process reads again) and the durable subscriber retries it.
            pass


after_commit(_bump_after_commit)
