"""Live delivery of chat messages to open WebSockets.

Each app process keeps a :class:`Hub`: topics (``guide:<merchant>:<staff>``,
``customer:<merchant>:<customer>``) → the queues of the sockets listening here. Without
Redis a message is handed to the local queues; with ``redis_url`` set it is PUBLISHed on
one Redis channel (``<redis_prefix>guides:chat``) that every process — this one included —
subscribes to while it has sockets open, so a guide on one app process hears a customer on
another. Delivery is best effort: the database is the record, and a socket that reconnects
reads the history.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from loopmall.core.state import AppState

log = logging.getLogger(__name__)

EXTRAS_KEY = "guides.hub"
QUEUE_SIZE = 100


def guide_topic(merchant_id: int, staff_id: int) -> str:
    return f"guide:{merchant_id}:{staff_id}"


def customer_topic(merchant_id: int, customer_id: int) -> str:
    return f"customer:{merchant_id}:{customer_id}"


class Hub:
    def __init__(self, redis: Any | None, prefix: str) -> None:
        self.redis = redis
        self.channel = f"{prefix}guides:chat"
        self.local: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._pubsub: Any | None = None
        self._lock = asyncio.Lock()

    @property
    def listeners(self) -> int:
        return sum(len(queues) for queues in self.local.values())

    async def subscribe(self, *topics: str) -> asyncio.Queue[dict[str, Any]]:
        """A queue receiving every message published to any of ``topics``."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        for topic in topics:
            self.local.setdefault(topic, set()).add(queue)
        if self.redis is not None:
            await self._listen()
        return queue

    async def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        for topic in list(self.local):
            self.local[topic].discard(queue)
            if not self.local[topic]:
                del self.local[topic]
        if not self.local:
            await self.stop()

    async def publish(self, topics: list[str], data: dict[str, Any]) -> None:
        """Deliver ``data`` to the sockets of ``topics`` in every process."""
        if self.redis is None:
            self._deliver(topics, data)
            return
        try:
            await self.redis.publish(self.channel, json.dumps({"topics": topics, "data": data}))
        except Exception:  # Redis down: at least this process's sockets hear it
            log.exception("chat fan-out through Redis failed")
            self._deliver(topics, data)

    def _deliver(self, topics: list[str], data: dict[str, Any]) -> None:
        seen: set[int] = set()
        for topic in topics:
            for queue in list(self.local.get(topic, ())):
                if id(queue) in seen:
                    continue
                seen.add(id(queue))
                with contextlib.suppress(asyncio.QueueFull):  # a stalled socket drops, not us
                    queue.put_nowait(data)

    async def _listen(self) -> None:
        async with self._lock:
            if self._listener is not None and not self._listener.done():
                return
            assert self.redis is not None
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
            except Exception:  # Redis down: the socket still hears this process (publish)
                log.exception("chat fan-out: subscribing to Redis failed")
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                return
            self._pubsub = pubsub
            self._listener = asyncio.create_task(self._run(pubsub), name="guides-hub")

    async def _run(self, pubsub: Any) -> None:
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("chat fan-out: reading Redis failed")
                await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                body = json.loads(message["data"])
                self._deliver(list(body["topics"]), dict(body["data"]))
            except (ValueError, KeyError, TypeError):
                log.warning("chat fan-out: a malformed message on %s", self.channel)

    async def stop(self) -> None:
        """Stop listening to Redis (the last socket closed, or the app shuts down)."""
        async with self._lock:
            task, pubsub = self._listener, self._pubsub
            self._listener = self._pubsub = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(self.channel)
                await pubsub.aclose()


def hub_of(state: AppState) -> Hub:
    """This app's hub (made on first use)."""
    found = state.extras.get(EXTRAS_KEY)
    if isinstance(found, Hub):
        return found
    hub = Hub(state.redis, state.settings.redis_prefix)
    state.extras[EXTRAS_KEY] = hub
    return hub
