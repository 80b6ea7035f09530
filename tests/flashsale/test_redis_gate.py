"""The Redis gate's Lua script: each check, and hundreds of concurrent buyers on small stock."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from loopmall.flashsale.gate_redis import (
    RedisGate,
    SaleImage,
    SaleKeys,
    drop_sale,
    load_sale,
    request_id,
    reservation_bitmap,
    return_units,
)
from loopmall.flashsale.gate_wire import INCOMPLETE, ReplyError, pack, parse

SALE = 7


@pytest.fixture
async def redis(redis_url: str, redis_prefix: str) -> AsyncIterator[Any]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def nonce() -> str:
    return uuid.uuid4().hex


async def loaded(
    redis: Any, prefix: str, *, stock: int, reserved: list[int], **rates: int
) -> RedisGate:
    await load_sale(redis, prefix, SaleImage(SALE, stock, reserved, {}, []))
    return RedisGate(redis, prefix, **rates)


def test_bitmap_layout_is_redis_order() -> None:
    assert reservation_bitmap([0]) == b"\x80"
    assert reservation_bitmap([7, 8]) == b"\x01\x80"
    assert reservation_bitmap([]) == b""


async def test_accepted_attempt_takes_a_unit_and_lands_in_the_stream(
    redis: Any, redis_prefix: str
) -> None:
    gate = await loaded(redis, redis_prefix, stock=2, reserved=[5, 9])
    answer = await gate.try_buy(SALE, 9, nonce(), accepted_at_ms=1234)
    assert (answer.status, answer.request_id, answer.left) == ("accepted", request_id(SALE, 9), 1)
    keys = SaleKeys(redis_prefix, SALE)
    assert await redis.get(keys.stock) == "1"
    entries = await redis.xrange(keys.stream)
    assert [fields for _id, fields in entries] == [
        {"r": request_id(SALE, 9), "c": "9", "q": "1", "t": "1234"}
    ]
    assert await redis.hgetall(keys.buyers) == {"9": request_id(SALE, 9)}


async def test_refusals_write_nothing(redis: Any, redis_prefix: str) -> None:
    gate = await loaded(redis, redis_prefix, stock=1, reserved=[5])
    keys = SaleKeys(redis_prefix, SALE)
    assert (await gate.try_buy(SALE, 6, nonce())).status == "not_reserved"
    assert (await gate.try_buy(SALE, 123456, nonce())).status == "not_reserved"
    first = await gate.try_buy(SALE, 5, nonce())
    assert first.status == "accepted"
    again = await gate.try_buy(SALE, 5, nonce())
    assert (again.status, again.request_id) == ("already_bought", first.request_id)
    assert await redis.get(keys.stock) == "0"
    assert await redis.xlen(keys.stream) == 1


async def test_a_token_is_good_for_one_attempt(redis: Any, redis_prefix: str) -> None:
    gate = await loaded(redis, redis_prefix, stock=0, reserved=[1, 2])
    spent = nonce()
    assert (await gate.try_buy(SALE, 1, spent)).status == "sold_out"
    assert (await gate.try_buy(SALE, 1, spent)).status == "token_used"
    assert (await gate.try_buy(SALE, 2, spent)).status == "token_used"


async def test_sold_out_and_not_loaded(redis: Any, redis_prefix: str) -> None:
    gate = await loaded(redis, redis_prefix, stock=1, reserved=[1, 2])
    assert (await gate.try_buy(SALE, 1, nonce())).status == "accepted"
    assert (await gate.try_buy(SALE, 2, nonce())).status == "sold_out"
    assert (await gate.try_buy(SALE + 1, 2, nonce())).status == "not_loaded"
    await drop_sale(redis, redis_prefix, SALE)
    assert (await gate.try_buy(SALE, 2, nonce())).status == "not_loaded"


async def test_rate_limits_per_customer_and_per_ip(redis: Any, redis_prefix: str) -> None:
    gate = await loaded(
        redis, redis_prefix, stock=0, reserved=list(range(10)), rate_per_consumer=2, rate_per_ip=5
    )
    statuses = [(await gate.try_buy(SALE, 1, nonce(), ip="a")).status for _ in range(3)]
    assert statuses == ["sold_out", "sold_out", "rate_limited"]
    statuses = [(await gate.try_buy(SALE, c, nonce(), ip="a")).status for c in (2, 3, 4, 5)]
    # "a" had spent 2 of its 5: the customer-limited attempt was refused before the IP counted
    assert statuses == ["sold_out", "sold_out", "sold_out", "rate_limited"]
    assert (await gate.try_buy(SALE, 6, nonce(), ip="b")).status == "sold_out"


async def test_returned_units_go_back_once(redis: Any, redis_prefix: str) -> None:
    gate = await loaded(redis, redis_prefix, stock=1, reserved=[1, 2])
    first = await gate.try_buy(SALE, 1, nonce())
    assert first.request_id is not None
    assert (await gate.try_buy(SALE, 2, nonce())).status == "sold_out"
    assert await return_units(redis, redis_prefix, SALE, [(first.request_id, 1)]) == 1
    assert await return_units(redis, redis_prefix, SALE, [(first.request_id, 1)]) == 0
    assert await return_units(redis, redis_prefix, SALE, []) == 0
    resold = await gate.try_buy(SALE, 2, nonce())
    assert resold.status == "accepted"
    assert (await gate.try_buy(SALE, 1, nonce())).status == "already_bought"
    assert await redis.get(SaleKeys(redis_prefix, SALE).stock) == "0"
    assert await return_units(redis, redis_prefix, SALE + 1, [("x", 1)]) == -1


async def test_hundreds_of_concurrent_buyers_never_oversell(redis: Any, redis_prefix: str) -> None:
    """Given 400 holders (each trying once, a third double-clicking and retrying) and 37 units,
    then exactly 37 distinct customers are accepted and the stream holds exactly them."""
    holders = list(range(1, 401))
    gate = await loaded(redis, redis_prefix, stock=37, reserved=holders)
    rng = random.Random(5)

    async def holder(customer: int) -> list[Any]:
        clicks = 1 + (rng.random() < 0.33) * rng.randint(1, 4)
        token = nonce()
        tries = [gate.try_buy(SALE, customer, token if i == 1 else nonce()) for i in range(clicks)]
        return list(await asyncio.gather(*tries))

    answers = [a for batch in await asyncio.gather(*(holder(c) for c in holders)) for a in batch]
    accepted = [a for a in answers if a.accepted]
    assert len(accepted) == 37
    assert len({a.request_id for a in accepted}) == 37
    assert {a.status for a in answers} <= {"accepted", "already_bought", "sold_out", "token_used"}
    keys = SaleKeys(redis_prefix, SALE)
    entries = await redis.xrange(keys.stream)
    assert sorted(f["r"] for _id, f in entries) == sorted(a.request_id for a in accepted)
    assert await redis.get(keys.stock) == "0"
    assert await redis.hlen(keys.buyers) == 37


def test_resp_replies_are_parsed_whole_or_not_at_all() -> None:
    reply = b"*3\r\n$8\r\naccepted\r\n$5\r\nfs7-9\r\n:4\r\n"
    assert parse(reply, 0) == (["accepted", "fs7-9", 4], len(reply))
    for cut in range(len(reply)):
        assert parse(reply[:cut], 0) is INCOMPLETE
    assert parse(b"+OK\r\n$-1\r\n", 5) == (None, 10)
    error, _end = parse(b"-NOSCRIPT No matching script\r\n", 0)  # type: ignore[misc]
    assert isinstance(error, ReplyError) and str(error).startswith("NOSCRIPT")
    assert pack("GET", 7) == b"*2\r\n$3\r\nGET\r\n$1\r\n7\r\n"


async def test_the_gate_on_its_own_wire_answers_as_through_redis_py(
    redis: Any, redis_url: str, redis_prefix: str
) -> None:
    """The lean route's wire (``url=``): the same answers, concurrently batched, and a
    script Redis forgot is loaded again."""
    await load_sale(redis, redis_prefix, SaleImage(SALE, 5, list(range(1, 41)), {}, []))
    gate = RedisGate(redis, redis_prefix, url=redis_url)
    answers = await asyncio.gather(*(gate.try_buy(SALE, c, nonce()) for c in range(0, 41)))
    statuses = [a.status for a in answers]
    assert statuses[0] == "not_reserved"
    assert statuses.count("accepted") == 5 and statuses.count("sold_out") == 35
    winner = next(c for c, a in enumerate(answers) if a.accepted)
    loser = next(c for c, a in enumerate(answers) if a.status == "sold_out")
    gate._batch.sha = "0" * 40  # as after a SCRIPT FLUSH: Redis answers NOSCRIPT
    assert (await gate.try_buy(SALE, winner, nonce())).status == "already_bought"
    assert (await gate.try_buy(SALE, loser, nonce())).status == "sold_out"
    assert gate._batch.sha != "0" * 40
    assert await redis.xlen(SaleKeys(redis_prefix, SALE).stream) == 5
    await gate.close()
