"""The flash-sale gate as a plain ASGI route in front of FastAPI (no pydantic, no DI).

``POST /api/v1/mall/{slug}/flash/{sale}/buy`` with ``{"token": "<sale token>"}`` (or the
``X-Sale-Token`` header). The signed one-time sale token (``flashsale.tokens``, fetched from
the sale page by the logged-in shopper) names the sale and the customer, so an attempt needs
no session lookup: verify the HMAC, then one Redis round trip (``gate_redis``) — or, without
Redis, the database gate (``gate_db``). Answers 200 ``{"status": "accepted", "request": …}``
or ``application/problem+json`` with the flash sale's codes (``flashsale.rules``).

``GET /hello`` answers a fixed JSON on the same stack: the baseline the benchmark divides by.

The route exists because FastAPI's validation and dependency resolution cost more per
request than the gate's own work (figures: ``bench/flashsale``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import TimeoutError as SATimeout
from starlette.types import ASGIApp, Receive, Scope, Send

from loopmall.core import clock
from loopmall.core.db import database_unavailable
from loopmall.core.errors import LoopmallError, NotFound, ValidationFailed
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale import answers, rules, tokens
from loopmall.flashsale.gate_redis import RedisGate

try:  # orjson when installed (a runtime dependency), the standard library otherwise
    import orjson

    dumps: Callable[[Any], bytes] = orjson.dumps
    loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover

    def dumps(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    loads = json.loads


log = logging.getLogger(__name__)
UNAVAILABLE = (SATimeout, ConnectionError, TimeoutError, RedisConnectionError, RedisTimeoutError)

GATE = re.compile(r"/api/v1/mall/([A-Za-z0-9_-]{1,64})/flash/([A-Za-z0-9_-]{1,40})/buy")
HELLO_PATH = "/hello"
HELLO = dumps({"status": "ok"})
MAX_BODY = 4096
SALE_CACHE_SECONDS = 1.0
PROBLEM = b"application/problem+json"
JSON = b"application/json"
GATE_KEY = "flashsale.redis_gate"
DB_GATE_KEY = "flashsale.db_gate"


@dataclass(frozen=True, slots=True)
class SaleInfo:
    """What the gate needs to know of a sale, cached a second per process."""

    id: int
    tenant: Tenant
    public_id: str
    gate: str
    status: str
    starts_at: datetime
    ends_at: datetime
    per_person_limit: int
    reserve_until: datetime


class BadRequest(ValidationFailed):
    code = "flash_bad_request"
    title = "The buy request is not valid"


class GateFailed(LoopmallError):
    status = 500
    code = "internal_error"
    title = "Internal error"


class Busy(LoopmallError):
    status = 503
    code = "flash_busy"
    title = "Too many buyers at this moment: try again in a second"


@dataclass(slots=True)
class SoldOutProbe:
    """One attempt asking again whether a remembered sold-out sale is still sold out; the
    attempts meanwhile wait on ``done`` (one future each, no task: a crowd waits here).
    ``done`` is also set when the probe has been asking for the memory's moment without
    an answer (``still_sold_out`` None): then each attempt asks for itself."""

    done: asyncio.Event
    timer: asyncio.TimerHandle
    still_sold_out: bool | None = None

    @classmethod
    def start(cls, memory: float) -> SoldOutProbe:
        done = asyncio.Event()
        return cls(done, asyncio.get_running_loop().call_later(memory, done.set))

    def finish(self, still_sold_out: bool) -> None:
        self.timer.cancel()
        self.still_sold_out = still_sold_out
        self.done.set()


class SoldOutNow(Exception):  # a signal inside the gate, never answered as is
    """The process remembers this sale sold out: answered with a ready-made problem."""


class WarmingUp(LoopmallError):
    status = 503
    code = "flash_warming_up"
    title = "The sale is being loaded: try again in a moment"


async def _respond(send: Send, status: int, body: bytes, kind: bytes = JSON, **extra: str) -> None:
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    headers += [(k.replace("_", "-").encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _problem(send: Send, exc: LoopmallError, path: str) -> None:
    extra = {"retry_after": "1"} if exc.status in (429, 503) else {}
    await _respond(send, exc.status, dumps(exc.to_problem(instance=path)), PROBLEM, **extra)


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("The client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest("The body is too large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _token(scope: Scope, body: bytes) -> str:
    for name, value in scope["headers"]:
        if name == b"x-sale-token":
            return value.decode("latin-1")
    if not body:
        raise BadRequest("The sale token is missing", field="token")
    try:
        data = loads(body)
    except ValueError:
        raise BadRequest("The body is not JSON") from None
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token or len(token) > 512:
        raise BadRequest("The sale token is missing", field="token")
    return token


class LeanGate:
    """ASGI middleware: answers the gate and the hello route itself, passes the rest on.

    Inside FastAPI (``app.add_middleware``) it serves the in-process clients (tests); the
    servers run it *around* FastAPI (``outermost``), so a gate attempt skips FastAPI's own
    outer layers (its error middleware, whose ``send`` wrapper and telemetry check — three
    reads of the environment per request — cost about a fifth of an attempt: py-spy).
    """

    def __init__(self, app: ASGIApp, *, owner: Any = None) -> None:
        self.app = app
        self.owner = owner  # the FastAPI app whose state this layer reads, when outermost
        self._sales: dict[tuple[str, str], tuple[float, SaleInfo | None]] = {}
        self._sold_out: dict[int, float] = {}  # sale id → until (monotonic)
        # Sales whose "sold out" is being asked again: the probe's answer (still sold out?).
        self._probing: dict[int, SoldOutProbe] = {}
        # (path, code, detail) → a refusal's ready-made answer (``_refuse``)
        self._ready: dict[tuple[str, str, str], answers.Ready] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[tuple[float, SaleInfo | None]]] = {}

    @classmethod
    def outermost(cls, app: Any) -> LeanGate:
        """The gate in front of the FastAPI ``app`` (what ``loopmall serve`` serves)."""
        return cls(app, owner=app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path == HELLO_PATH and scope["method"] == "GET":
                await _respond(send, 200, HELLO)
                return
            if path.endswith("/buy") and scope["method"] == "POST":
                match = GATE.fullmatch(path)
                if match is not None:
                    await self._guarded(scope, receive, send, match[1].lower(), match[2])
                    return
        await self.app(scope, receive, send)

    async def _guarded(
        self, scope: Scope, receive: Receive, send: Send, slug: str, sale: str
    ) -> None:
        path = scope["path"]
        try:
            status, body = await self._buy(scope, receive, slug, sale)
        except SoldOutNow:
            await self._refuse(scope, send, rules.SoldOut())
            return
        except LoopmallError as exc:
            await self._refuse(scope, send, exc)
            return
        except Exception as exc:
            if database_unavailable(exc):
                # The sale's lookup or the database gate found no connection ("too many
                # clients already", the pool's timeout): the buyer retries (issue #21).
                log.warning("flash-sale gate: database unavailable on %s: %s", path, exc)
                await _problem(send, Busy(), path)
                return
            log.exception("flash-sale gate failed on %s", path)
            await _problem(send, GateFailed("Something went wrong; it has been logged."), path)
            return
        answer = answers.Ready.of(status, body, JSON)
        if not answers.write_whole(send, answer):
            await answer.send(send)

    async def _refuse(self, scope: Scope, send: Send, exc: LoopmallError) -> None:
        """A refusal, from a ready-made answer when it names nothing of the attempt (sold
        out, a forged or used token, not reserved, too many tries: the crowd's answers),
        written whole in one go where the server allows (``answers.write_whole``)."""
        path: str = scope["path"]
        if exc.extra:  # it names the attempt (already bought: its request): made for it
            await _problem(send, exc, path)
            return
        key = (path, exc.code, exc.detail)
        ready = self._ready.get(key)
        if ready is None:
            if len(self._ready) > 1000:  # made-up paths
                self._ready.clear()
            body = dumps(exc.to_problem(instance=path))
            retry = exc.status in (429, 503)
            ready = self._ready[key] = answers.Ready.of(exc.status, body, PROBLEM, retry)
        if not answers.write_whole(send, ready):
            await ready.send(send)

    async def _buy(  # noqa: PLR0912 (the lean gate's hot path, kept in one piece (measured by the flash bench))
        self, scope: Scope, receive: Receive, slug: str, public_id: str
    ) -> tuple[int, bytes]:
        state = (self.owner or scope["app"]).state.loopmall
        # The sale is in the path: a remembered "sold out" is answered before the body is
        # read or parsed (issue #21: most of a sale's attempts come after its last unit).
        sale = await self._sale(state, slug, public_id)
        now = clock.now()
        _check_live(sale, now)
        # Most attempts of a sale come after its last unit went (1.938 M holders, 150,000
        # units): once the gate said "sold out", this process says it for a moment
        # (``flashsale_sold_out_memory_seconds``) without asking Redis or the database
        # again, and without checking the token's signature (sold out is sold out for
        # anyone; the answer gives away nothing the sale page does not show). When the
        # moment is over, one attempt asks again (the probe) and the others take its
        # answer instead of all asking at once. It only ever refuses on a fresh answer, so
        # a unit put back by a lapse still sells to holders who try.
        memory = state.settings.flashsale_sold_out_memory_seconds
        probe: SoldOutProbe | None = None
        if memory > 0 and sale.id in self._sold_out:
            if self._sold_out[sale.id] > time.monotonic():
                raise SoldOutNow()
            running = self._probing.get(sale.id)
            if running is not None:
                # Wait for the probe's answer until it has been asking for a moment. No
                # answer by then: this attempt asks the gate itself — a unit may be back,
                # and a holder must not be told "sold out" on a guess.
                if not running.done.is_set():
                    await running.done.wait()
                if running.still_sold_out:
                    raise SoldOutNow()
            else:
                probe = self._probing[sale.id] = SoldOutProbe.start(memory)
        still_sold_out = True
        try:
            token = _token(scope, await _body(receive))
            claim = _verify(state.settings, token, sale, now)
            client = scope.get("client")
            ip = client[0] if client else "unknown"
            if sale.gate == "redis" and state.redis is not None:
                bought = await _buy_redis(state, sale, claim, ip, now)
            else:
                bought = await _buy_db(state, sale, claim, ip)
            self._sold_out.pop(sale.id, None)  # a unit came back
            still_sold_out = False
            return bought
        except LoopmallError as exc:
            if exc.code == "flash_sold_out" and memory > 0:
                self._sold_out[sale.id] = time.monotonic() + memory
            else:
                still_sold_out = False  # refused for another reason: the others may try
            raise
        except UNAVAILABLE:
            # The database's connections are all busy (on SQLite writes queue on one), or
            # Redis is out of reach: the buyer is asked to retry. Nothing was taken, or the
            # attempt was accepted and the retry is told "already bought" with its request.
            log.warning("flash-sale gate unavailable on sale %s", sale.id, exc_info=True)
            raise Busy() from None
        finally:
            if probe is not None:
                del self._probing[sale.id]
                probe.finish(still_sold_out)

    async def _sale(self, state: Any, slug: str, public_id: str) -> SaleInfo:
        key = (slug, public_id)
        cached = self._sales.get(key)
        if cached is None or cached[0] < time.monotonic():
            # One lookup per sale at a time: the hundreds of attempts in flight when the
            # cache runs out wait for it instead of each asking the database.
            loading = self._loading.get(key)
            if loading is None:
                loading = self._loading[key] = asyncio.ensure_future(self._fetch(state, key))
                loading.add_done_callback(lambda _f: self._loading.pop(key, None))
            cached = await asyncio.shield(loading)
        if cached[1] is None:
            raise NotFound("No such flash sale")
        return cached[1]

    async def _fetch(self, state: Any, key: tuple[str, str]) -> tuple[float, SaleInfo | None]:
        info = await _load_sale(state, *key)
        if len(self._sales) > 10_000:  # bots asking for made-up sales
            self._sales.clear()
        self._sales[key] = entry = (time.monotonic() + SALE_CACHE_SECONDS, info)
        return entry


async def _load_sale(state: Any, slug: str, public_id: str) -> SaleInfo | None:
    from loopmall.customers.service import tenant_for_slug
    from loopmall.flashsale.repository import get_sale

    async with UnitOfWork(state.read_factory) as uow:
        try:
            tenant = await tenant_for_slug(uow.session, slug)
            sale = await get_sale(uow.session, tenant, public_id)
        except NotFound:
            return None
        return SaleInfo(
            id=sale.id,
            tenant=tenant,
            public_id=sale.public_id,
            gate=sale.gate,
            status=sale.status,
            starts_at=sale.starts_at,
            ends_at=sale.ends_at,
            per_person_limit=sale.per_person_limit,
            reserve_until=sale.reserve_until,
        )


def _check_live(sale: SaleInfo, now: datetime) -> None:
    if sale.status != "active" or not sale.starts_at <= now < sale.ends_at:
        phase = (
            "cancelled"
            if sale.status != "active"
            else ("ended" if now >= sale.ends_at else "waiting")
        )
        raise rules.SaleNotLive(phase=phase, starts_at=sale.starts_at.isoformat())


@dataclass(frozen=True, slots=True)
class Claim:
    customer_id: int
    nonce: str


def _verify(settings: Any, token: str, sale: SaleInfo, now: datetime) -> Claim:
    verified = tokens.verify_token(settings.secret_key, token, sale_id=sale.id, now=now)
    return Claim(verified.customer_id, verified.nonce)


async def _buy_redis(
    state: Any, sale: SaleInfo, claim: Claim, ip: str, now: datetime
) -> tuple[int, bytes]:
    gate = state.extras.get(GATE_KEY)
    if gate is None:
        settings = state.settings
        gate = state.extras[GATE_KEY] = RedisGate(
            state.redis,
            settings.redis_prefix,
            rate_per_consumer=settings.flashsale_rate_per_consumer,
            rate_per_ip=settings.flashsale_rate_per_ip,
            url=settings.redis_url,
        )
    at_ms = int(now.timestamp() * 1000)
    answer = await gate.try_buy(
        sale.id, claim.customer_id, claim.nonce, ip=ip, accepted_at_ms=at_ms
    )
    if answer.status == "not_reserved" and await _reserved_since_loaded(state, sale, claim, now):
        # The refusal spent nothing (the script checks the reservation before the token).
        answer = await gate.try_buy(
            sale.id, claim.customer_id, claim.nonce, ip=ip, accepted_at_ms=at_ms
        )
    if answer.accepted:
        return 200, dumps(
            {"status": "accepted", "request": answer.request_id, "sale": sale.public_id}
        )
    if answer.status == "not_loaded":
        await _warm(state, sale)
        raise WarmingUp()
    errors: dict[str, Callable[[], LoopmallError]] = {
        "already_bought": lambda: rules.AlreadyBought(request=answer.request_id),
        "sold_out": rules.SoldOut,
        "not_reserved": rules.NotReserved,
        "token_used": rules.TokenUsed,
        "rate_limited": rules.RateLimited,
    }
    raise errors[answer.status]()


NEVER_RESERVED_MAX = 200_000
# Probes at once per process: a crowd of non-holders must not take the pool's connections
# from everything else (issue #21: 256 at once ran PostgreSQL out of connections).
PROBES_AT_ONCE = 4
PROBES_KEY = "flashsale.reservation_probes"


@dataclass(slots=True)
class Probes:
    """The app's reservation probes: how many may run at once, and the shoppers the
    database said had not reserved a sale whose reservations had closed — they never
    will, so their next attempts are refused without asking it again."""

    at_once: asyncio.Semaphore
    never: set[tuple[int, int]]  # (sale id, customer id)


async def _reserved_since_loaded(state: Any, sale: SaleInfo, claim: Claim, now: datetime) -> bool:
    """A reservation made after the sale was loaded into Redis (reservations may stay open
    into the sale) is in the database only: one primary-key probe, and if it is there the
    bit goes into Redis (idempotent) and the attempt is made again."""
    from loopmall.flashsale.gate_redis import add_reservation
    from loopmall.flashsale.repository import has_reserved

    probes: Probes | None = state.extras.get(PROBES_KEY)
    if probes is None:
        probes = state.extras[PROBES_KEY] = Probes(asyncio.Semaphore(PROBES_AT_ONCE), set())
    key = (sale.id, claim.customer_id)
    if key in probes.never:
        return False
    async with probes.at_once, UnitOfWork(state.read_factory) as uow:
        found = await has_reserved(uow.session, sale.id, claim.customer_id)
    if found:
        await add_reservation(state.redis, state.settings.redis_prefix, sale.id, claim.customer_id)
    elif now >= sale.reserve_until:  # closed: no reservation can come any more
        if len(probes.never) >= NEVER_RESERVED_MAX:
            probes.never.clear()
        probes.never.add(key)
    return found


async def _warm(state: Any, sale: SaleInfo) -> None:
    """The first attempt at a sale Redis does not hold loads it from the database (one
    process does, under a Redis lock); the others are told to retry in a second."""
    from loopmall.flashsale.reconcile import load_if_missing

    await load_if_missing(state, sale.tenant, sale.id)


async def _buy_db(state: Any, sale: SaleInfo, claim: Claim, ip: str) -> tuple[int, bytes]:
    """The database gate: the attempt joins this process's next batch (``gate_db.Batcher``:
    one transaction for all the attempts that arrived while the last one ran)."""
    from loopmall.flashsale import gate_db, pending

    batcher = state.extras.get(DB_GATE_KEY)
    if batcher is None:
        batcher = state.extras[DB_GATE_KEY] = gate_db.Batcher(state.write_factory)
    answer = await batcher.submit(
        sale.tenant, sale.id, gate_db.Attempt(claim.customer_id, claim.nonce, ip)
    )
    pending.kick(state, sale.tenant, sale.id)  # the order is made after the answer
    return 200, dumps(_db_answer(answer, sale))


def _db_answer(answer: Any, sale: SaleInfo) -> dict[str, Any]:
    request = getattr(answer, "request_id", None)
    return {"status": "accepted", "request": request, "sale": sale.public_id}
