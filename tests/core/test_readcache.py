"""The read cache on its own: generations, the two layers, Redis lost or away, bounded keys,
the stock bound, one build for a crowd (core.readcache, ADR 0010)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from loopmall.core import readcache
from loopmall.core.readcache import KEY_MAX, ReadCache, get_or_build


class FakeTimer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting(value: Any) -> tuple[Callable[[], Awaitable[Any]], list[int]]:
    """A build returning ``value`` (called with the current box) that counts its calls."""
    calls: list[int] = []

    async def build() -> Any:
        calls.append(1)
        return value() if callable(value) else value

    return build, calls


@pytest.fixture
async def shared_redis(redis_url: str, redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    keys = [k async for k in client.scan_iter(f"{redis_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def redis_cache(client: Any, prefix: str, **kw: Any) -> ReadCache:
    return ReadCache(redis=client, prefix=prefix, **kw)


async def test_embedded_builds_once_then_a_bump_rebuilds() -> None:
    cache = ReadCache()
    box = {"price": 100}
    build, calls = counting(lambda: dict(box))

    assert await get_or_build(cache, 1, "catalog", "p:1", build) == {"price": 100}
    assert await get_or_build(cache, 1, "catalog", "p:1", build) == {"price": 100}
    assert len(calls) == 1

    box["price"] = 90
    await cache.bump(1, ["catalog"])
    assert await get_or_build(cache, 1, "catalog", "p:1", build) == {"price": 90}
    assert len(calls) == 2


async def test_a_bump_touches_only_its_merchant_and_area() -> None:
    cache = ReadCache()
    builds = {name: counting(name) for name in ("m1-catalog", "m1-mall", "m2-catalog")}
    for _ in range(2):
        await get_or_build(cache, 1, "catalog", "k", builds["m1-catalog"][0])
        await get_or_build(cache, 1, "mall", "k", builds["m1-mall"][0])
        await get_or_build(cache, 2, "catalog", "k", builds["m2-catalog"][0])
        await cache.bump(1, ["catalog"])
    assert [len(calls) for _, calls in builds.values()] == [2, 1, 1]


async def test_a_value_of_several_areas_is_forgotten_when_any_changes() -> None:
    cache = ReadCache()
    build, calls = counting({"x": 1})
    view = await cache.view(7, ["catalog", "stock"])
    await view.get_or_build(("catalog", "stock"), "page", build)
    await cache.bump(7, ["stock"])
    view = await cache.view(7, ["catalog", "stock"])
    await view.get_or_build(("catalog", "stock"), "page", build)
    assert len(calls) == 2


async def test_values_come_back_as_json_gives_them() -> None:
    cache = ReadCache()
    build, _ = counting({"ids": (1, 2)})
    assert await get_or_build(cache, 1, "catalog", "k", build) == {"ids": [1, 2]}


async def test_keys_are_bounded_and_the_lru_has_a_cap() -> None:
    cache = ReadCache(max_bytes=20_000)
    view = await cache.view(1, ["catalog"])
    for n in range(500):  # an attacker's ?x=1, ?x=2, … made into keys anyway
        build, _ = counting({"n": n})
        await view.get_or_build("catalog", f"q:{n}", build)
    assert cache.held_bytes <= 20_000
    assert 50 < len(cache) < 80  # about 270 bytes each: a small value and the entry
    build, _ = counting(0)
    with pytest.raises(ValueError, match="longer than"):
        await view.get_or_build("catalog", "x" * (KEY_MAX + 1), build)
    with pytest.raises(ValueError, match="not read by this view"):
        await view.get_or_build("stock", "k", build)


async def test_a_value_over_the_cap_is_served_and_not_kept() -> None:
    cache = ReadCache(max_bytes=10_000)
    build, calls = counting({"page": "x" * 20_000})
    for _ in range(2):
        assert len((await get_or_build(cache, 1, "catalog", "big", build))["page"]) == 20_000
    assert len(calls) == 2
    assert len(cache) == 0


async def test_stock_lives_at_most_its_bound_and_the_catalog_longer() -> None:
    timer = FakeTimer()
    cache = ReadCache(stock_ttl_seconds=2.0, ttl_seconds=300.0, timer=timer)
    stock, stock_calls = counting({"left": 3})
    catalog, catalog_calls = counting({"title": "T"})
    for step in (0.0, 1.9, 0.2):  # t = 0, 1.9, 2.1 seconds
        timer.now += step
        await get_or_build(cache, 1, "stock", "s", stock)
        await get_or_build(cache, 1, "catalog", "c", catalog)
    assert len(stock_calls) == 2  # built at 0 s, expired at 2.1 s
    assert len(catalog_calls) == 1


async def test_a_crowd_on_a_cold_key_makes_one_build() -> None:
    cache = ReadCache()
    calls: list[int] = []
    gate = asyncio.Event()

    async def slow() -> dict[str, int]:
        calls.append(1)
        await gate.wait()
        return {"v": 1}

    crowd = [asyncio.create_task(get_or_build(cache, 1, "catalog", "k", slow)) for _ in range(20)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*crowd) == [{"v": 1}] * 20
    assert calls == [1]


async def test_a_failed_build_is_not_cached_and_its_waiters_see_the_error() -> None:
    cache = ReadCache()

    async def broken() -> None:
        await asyncio.sleep(0)
        raise LookupError("no such product")

    crowd = [asyncio.create_task(get_or_build(cache, 1, "catalog", "k", broken)) for _ in range(3)]
    results = await asyncio.gather(*crowd, return_exceptions=True)
    assert [type(r) for r in results] == [LookupError] * 3
    assert len(cache) == 0


# --- with Redis ---------------------------------------------------------------------------


async def test_two_processes_share_values_and_see_each_others_bumps(
    shared_redis: Any, redis_prefix: str
) -> None:
    one, two = redis_cache(shared_redis, redis_prefix), redis_cache(shared_redis, redis_prefix)
    box = {"price": 100}
    build, calls = counting(lambda: dict(box))

    assert await get_or_build(one, 5, "catalog", "p", build) == {"price": 100}
    assert await get_or_build(two, 5, "catalog", "p", build) == {"price": 100}
    assert len(calls) == 1  # the second process took what the first built (L2)
    assert two.stats["shared"] == 1

    box["price"] = 80
    await one.bump(5, ["catalog"])
    # The second process's L1 still holds 100 under the old generation; it reads the
    # generation from Redis on its next request and never looks at that value again.
    assert await get_or_build(two, 5, "catalog", "p", build) == {"price": 80}


async def test_a_process_of_another_build_never_reads_this_builds_shared_values(
    shared_redis: Any, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a value one build of the app shared through Redis
    old = redis_cache(shared_redis, redis_prefix)
    build, calls = counting({"stores": [{"name": "静安店"}]})
    await get_or_build(old, 5, "stores", "home", build)
    # When a process of a newer build (its code changed the value's shape) reads it
    monkeypatch.setattr(readcache, "code_fingerprint", lambda: "newer-build")
    new_build, new_calls = counting({"stores": [{"name": "静安店", "id": "st_1"}]})
    new = redis_cache(shared_redis, redis_prefix)
    # Then it builds its own, of its own shape; the generations are still shared
    assert await get_or_build(new, 5, "stores", "home", new_build) == {
        "stores": [{"name": "静安店", "id": "st_1"}]
    }
    assert (len(calls), len(new_calls), new.stats["shared"]) == (1, 1, 0)


async def test_redis_flushed_means_rebuilt_never_stale(
    shared_redis: Any, redis_prefix: str
) -> None:
    cache = redis_cache(shared_redis, redis_prefix)
    box = {"price": 100}
    build, calls = counting(lambda: dict(box))
    await get_or_build(cache, 5, "catalog", "p", build)

    # Redis loses everything of ours (a FLUSHDB, a restart without persistence) while the
    # price changes and the bump with it is lost too.
    keys = [k async for k in shared_redis.scan_iter(f"{redis_prefix}*")]
    await shared_redis.delete(*keys)
    box["price"] = 70

    assert await get_or_build(cache, 5, "catalog", "p", build) == {"price": 70}
    assert len(calls) == 2


async def test_two_processes_agree_on_a_generation_made_at_once(
    shared_redis: Any, redis_prefix: str
) -> None:
    caches = [redis_cache(shared_redis, redis_prefix) for _ in range(5)]
    views = await asyncio.gather(*(c.view(9, ["mall"]) for c in caches))
    assert len({v.generations["mall"] for v in views if v.generations}) == 1


async def test_redis_away_reads_through_logs_once_and_owes_the_bump(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A port nobody listens on: connection refused at once.
    away = aioredis.from_url("redis://127.0.0.1:1/0", decode_responses=True)
    timer = FakeTimer()
    cache = ReadCache(redis=away, prefix="lmtest-away:", timer=timer)
    build, calls = counting({"v": 1})
    with caplog.at_level(logging.WARNING, logger="loopmall.core.readcache"):
        for _ in range(3):
            timer.now += 2  # past the pause after a failure: each read asks Redis again
            assert await get_or_build(cache, 1, "catalog", "k", build) == {"v": 1}
        with pytest.raises(RedisError):
            await cache.bump(1, ["catalog"])
    assert len(calls) == 3  # nothing cached while the generations cannot be read
    assert cache.stats["read_through"] == 3
    assert len([r for r in caplog.records if "unreachable" in r.message]) == 1
    assert cache._owed == {(1, "catalog")}
    await away.aclose()


async def test_an_owed_bump_is_sent_before_the_next_read(
    shared_redis: Any, redis_prefix: str
) -> None:
    cache = redis_cache(shared_redis, redis_prefix)
    other = redis_cache(shared_redis, redis_prefix)
    box = {"price": 100}
    build, _ = counting(lambda: dict(box))
    await get_or_build(other, 3, "catalog", "p", build)
    box["price"] = 60
    cache._owed.add((3, "catalog"))  # the bump of a change made while Redis was away

    await cache.view(3, ["mall"])  # this process's next request, whatever it reads

    assert await get_or_build(other, 3, "catalog", "p", build) == {"price": 60}
    assert cache._owed == set()
