"""The chat hub: local fan-out, across hubs through Redis, and local when Redis is down."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from loopmall.guides.hub import Hub


async def test_without_redis_a_message_reaches_the_local_subscribers_of_its_topics() -> None:
    hub = Hub(None, "x:")
    guide = await hub.subscribe("guide:1:2")
    customer = await hub.subscribe("customer:1:3")
    other = await hub.subscribe("guide:1:9")
    await hub.publish(["guide:1:2", "customer:1:3"], {"n": 1})
    assert (guide.get_nowait(), customer.get_nowait()) == ({"n": 1}, {"n": 1})
    assert other.empty()
    for queue in (guide, customer, other):
        await hub.unsubscribe(queue)
    assert hub.listeners == 0


async def test_two_hubs_sharing_redis_hear_each_other(redis_url: str, redis_prefix: str) -> None:
    first_redis = aioredis.from_url(redis_url, decode_responses=True)
    second_redis = aioredis.from_url(redis_url, decode_responses=True)
    first, second = Hub(first_redis, redis_prefix), Hub(second_redis, redis_prefix)
    try:
        heard = await first.subscribe("guide:1:2")
        await second.publish(["guide:1:2"], {"body": "你好"})
        assert await asyncio.wait_for(heard.get(), 5) == {"body": "你好"}
        await first.unsubscribe(heard)
        assert first._listener is None  # no sockets here: nothing listens to Redis
    finally:
        await first_redis.aclose()
        await second_redis.aclose()


async def test_with_redis_down_the_local_sockets_still_hear() -> None:
    down = aioredis.from_url("redis://127.0.0.1:1/0", decode_responses=True)
    hub = Hub(down, "x:")
    try:
        queue = await hub.subscribe("customer:1:3")
        await hub.publish(["customer:1:3"], {"n": 2})
        assert queue.get_nowait() == {"n": 2}
        await hub.unsubscribe(queue)
    finally:
        await down.aclose()
