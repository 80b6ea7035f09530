"""The flash-sale gate on Redis: one Lua script per attempt (EVALSHA, one round trip).

Per sale, under one hash tag (``{fs<sale id>}``, so a Redis Cluster keeps them on one shard):

- ``stock``     units left (an integer; its absence means "sale not loaded")
- ``resv``      reservations: a bitmap indexed by customer id (1.938 M holders with ids up to
                ~2 M cost ~250 KB; a set of the same ids costs ~90 MB — measured in
                ``bench/flashsale``)
- ``buyers``    hash customer id → request id: the repeat-buyer guard, one accepted request
                per customer per sale (a lapsed buyer stays here: their ticket is spent)
- ``tok:<n>``   one key per spent one-time token nonce (SET NX EX)
- ``stream``    the accepted requests, read by ``flashsale.stream`` (consumer group ``orders``)
- ``returned``  request ids whose units went back on sale (``return_units`` is idempotent)
- ``refused``   request ids accepted here but refused by the database (``unaccept``)
- ``rl:c:<id>`` / ``rl:ip:<ip>``  one-second attempt counters

The request id of an accepted buy is ``request_id(sale_id, customer_id)``: one per customer
per sale, so a double click and a consumer's redelivery name the same request.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from loopmall.flashsale.gate_wire import ScriptBatcher, ScriptPipe, bulk

LUA_DIR = Path(__file__).parent / "lua"
GATE_LUA = (LUA_DIR / "gate.lua").read_text()
RETURN_LUA = (LUA_DIR / "return_units.lua").read_text()
UNACCEPT_LUA = (LUA_DIR / "unaccept.lua").read_text()
GROUP = "orders"
TOKEN_TTL_SECONDS = 15 * 60

ACCEPTED = "accepted"
# Every status the script answers; the lean route maps them to HTTP.
STATUSES = (
    ACCEPTED,
    "already_bought",
    "sold_out",
    "not_reserved",
    "token_used",
    "rate_limited",
    "not_loaded",
)


def request_id(sale_id: int, customer_id: int) -> str:
    return f"fs{sale_id}-{customer_id}"


@dataclass(frozen=True)
class SaleKeys:
    prefix: str
    sale_id: int

    def _k(self, name: str) -> str:
        return f"{self.prefix}fs:{{fs{self.sale_id}}}:{name}"

    @cached_property
    def stock(self) -> str:
        return self._k("stock")

    @cached_property
    def reservations(self) -> str:
        return self._k("resv")

    @cached_property
    def buyers(self) -> str:
        return self._k("buyers")

    @cached_property
    def stream(self) -> str:
        return self._k("stream")

    @cached_property
    def returned(self) -> str:
        return self._k("returned")

    @cached_property
    def refused(self) -> str:
        return self._k("refused")

    @cached_property
    def report(self) -> str:
        return self._k("report")

    def token(self, nonce: str) -> str:
        return self._k(f"tok:{nonce}")

    def customer_rate(self, customer_id: int) -> str:
        return self._k(f"rl:c:{customer_id}")

    def ip_rate(self, ip: str) -> str:
        return self._k(f"rl:ip:{ip}")

    def all_fixed(self) -> list[str]:
        return [
            self.stock,
            self.reservations,
            self.buyers,
            self.stream,
            self.returned,
            self.refused,
        ]


@dataclass(frozen=True)
class RedisAnswer:
    status: str
    request_id: str | None = None
    left: int | None = None

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED


class RedisGate:
    """The gate of every sale on one Redis (``redis`` is a redis.asyncio client)."""

    def __init__(
        self,
        redis: Any,
        prefix: str,
        *,
        rate_per_consumer: int = 0,
        rate_per_ip: int = 0,
        token_ttl_seconds: int = TOKEN_TTL_SECONDS,
        url: str | None = None,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.rate_per_consumer = rate_per_consumer
        self.rate_per_ip = rate_per_ip
        self.token_ttl_seconds = token_ttl_seconds
        self._keys: dict[int, SaleKeys] = {}
        self._wire: dict[int, tuple[bytes, bytes, bytes]] = {}
        self._rates = bulk(rate_per_consumer) + bulk(rate_per_ip)
        # With the URL the gate speaks RESP itself (``gate_wire``: a fraction of redis-py's
        # CPU per attempt); without, through the client's pipelines.
        self._batch: Any = ScriptPipe(url, GATE_LUA) if url else ScriptBatcher(redis, GATE_LUA)

    def keys(self, sale_id: int) -> SaleKeys:
        found = self._keys.get(sale_id)
        if found is None:
            found = self._keys[sale_id] = SaleKeys(self.prefix, sale_id)
        return found

    def _encoded(self, keys: SaleKeys) -> tuple[bytes, bytes, bytes]:
        """The sale's fixed parts of the script call, as RESP: numkeys and the first three
        keys; the stream key; the token TTL."""
        found = self._wire.get(keys.sale_id)
        if found is None:
            found = self._wire[keys.sale_id] = (
                bulk(7) + bulk(keys.stock) + bulk(keys.reservations) + bulk(keys.buyers),
                bulk(keys.stream),
                bulk(self.token_ttl_seconds),
            )
        return found

    async def close(self) -> None:
        if isinstance(self._batch, ScriptPipe):
            await self._batch.close()

    async def try_buy(
        self,
        sale_id: int,
        customer_id: int,
        nonce: str,
        *,
        ip: str = "",
        quantity: int = 1,
        accepted_at_ms: int | None = None,
    ) -> RedisAnswer:
        """One attempt: rate limits, reservation, repeat buyer, one-time token, stock; an
        accepted attempt is appended to the sale's stream in the same script."""
        keys = self.keys(sale_id)
        at = accepted_at_ms if accepted_at_ms is not None else int(time.time() * 1000)
        rid = request_id(sale_id, customer_id)
        if isinstance(self._batch, ScriptPipe):
            head, middle, last = self._encoded(keys)
            tail = b"".join(
                (
                    head,
                    bulk(keys.token(nonce)),
                    middle,
                    bulk(keys.customer_rate(customer_id)),
                    bulk(keys.ip_rate(ip)),
                    bulk(customer_id),
                    bulk(quantity),
                    bulk(rid),
                    last,
                    bulk(at),
                    self._rates,
                )
            )
            return _answer(await self._batch.call_encoded(15, tail))
        raw = await self._batch.call(
            (
                keys.stock,
                keys.reservations,
                keys.buyers,
                keys.token(nonce),
                keys.stream,
                keys.customer_rate(customer_id),
                keys.ip_rate(ip),
            ),
            (
                customer_id,
                quantity,
                rid,
                self.token_ttl_seconds,
                at,
                self.rate_per_consumer,
                self.rate_per_ip,
            ),
        )
        return _answer(raw)

    async def return_units(self, sale_id: int, units: Iterable[tuple[str, int]]) -> int:
        return await return_units(self.redis, self.prefix, sale_id, units)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _answer(raw: Sequence[Any]) -> RedisAnswer:
    status = _text(raw[0])
    rid = _text(raw[1]) if len(raw) > 1 else None
    left = int(raw[2]) if len(raw) > 2 else None
    return RedisAnswer(status, rid, left)


async def return_units(
    redis: Any, prefix: str, sale_id: int, units: Iterable[tuple[str, int]]
) -> int:
    """Put lapsed units back on sale in Redis: ``units`` is ``(request_id, quantity)`` per
    lapsed ticket. Idempotent per request id (a second call for the same request puts
    nothing back). Answers the units put back, or -1 when the sale is not loaded (Redis lost
    it: ``reconcile.repair`` rebuilds it from the database, lapses included)."""
    args: list[Any] = []
    for rid, quantity in units:
        args += [rid, int(quantity)]
    if not args:
        return 0
    keys = SaleKeys(prefix, sale_id)
    script = redis.register_script(RETURN_LUA)
    return int(await script(keys=[keys.stock, keys.returned], args=args))


async def unaccept(
    redis: Any, prefix: str, sale_id: int, refused: Iterable[tuple[str, int, int]]
) -> int:
    """Undo Redis's yes for requests the database refused: ``(request_id, customer_id,
    quantity)`` each; the customer may try again and the unit is back. Idempotent per
    request id. Answers the units put back."""
    args: list[Any] = []
    for rid, customer_id, quantity in refused:
        args += [rid, int(customer_id), int(quantity)]
    if not args:
        return 0
    keys = SaleKeys(prefix, sale_id)
    script = redis.register_script(UNACCEPT_LUA)
    return int(await script(keys=[keys.stock, keys.buyers, keys.refused], args=args))


def reservation_bitmap(customer_ids: Iterable[int]) -> bytes:
    """Redis's bitmap layout (bit 0 is the high bit of byte 0) with a 1 per customer id."""
    ids = list(customer_ids)
    if not ids:
        return b""
    bits = bytearray((max(ids) >> 3) + 1)
    for cid in ids:
        bits[cid >> 3] |= 0x80 >> (cid & 7)
    return bytes(bits)


@dataclass(frozen=True)
class SaleImage:
    """What Redis must hold for one sale; built from the database by ``reconcile``."""

    sale_id: int
    stock_left: int
    reserved: Sequence[int]
    buyers: dict[int, str]  # customer id → request id (every ticket, lapsed ones too)
    returned: Sequence[str]  # request ids of lapsed tickets


async def load_sale(redis: Any, prefix: str, image: SaleImage) -> None:
    """Write a sale into Redis, replacing whatever was there (the stream keeps its entries;
    its consumer group is created if missing). The stock key goes last: until it exists the
    gate answers ``not_loaded``."""
    keys = SaleKeys(prefix, image.sale_id)
    await redis.delete(keys.stock)
    pipe = redis.pipeline(transaction=False)
    pipe.delete(keys.buyers, keys.returned)
    # Reservations only grow: OR the database's into what is there, so one added to Redis
    # while this image was read from the database is not lost.
    scratch = keys.reservations + ":load"
    pipe.set(scratch, reservation_bitmap(image.reserved))
    pipe.bitop("OR", keys.reservations, keys.reservations, scratch)
    pipe.delete(scratch)
    buyers = list(image.buyers.items())
    for i in range(0, len(buyers), 10_000):
        pipe.hset(keys.buyers, mapping=dict(buyers[i : i + 10_000]))
    returned = list(image.returned)
    for i in range(0, len(returned), 10_000):
        pipe.sadd(keys.returned, *returned[i : i + 10_000])
    await pipe.execute()
    await ensure_group(redis, keys.stream)
    await redis.set(keys.stock, image.stock_left)


async def ensure_group(redis: Any, stream: str) -> None:
    from redis.exceptions import ResponseError

    try:
        await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def add_reservation(redis: Any, prefix: str, sale_id: int, customer_id: int) -> None:
    """Let a reservation made after the sale was loaded reach the gate (idempotent)."""
    await redis.setbit(SaleKeys(prefix, sale_id).reservations, customer_id, 1)


async def drop_sale(redis: Any, prefix: str, sale_id: int) -> None:
    """Forget a sale in Redis (tests of repair; a sale's keys after it is archived)."""
    keys = SaleKeys(prefix, sale_id)
    await redis.delete(*keys.all_fixed())
