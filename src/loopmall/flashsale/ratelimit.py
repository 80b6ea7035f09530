"""Gate attempts per consumer and per IP, counted in one-second windows in this process.

The Redis gate counts in Redis (inside its script, shared by every app process); the
database gate of the embedded default runs in one process, so a counter here is exact
there. Windows are whole seconds of the monotonic clock: the map is emptied when the
second turns, so it never holds more than one second of callers.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Window:
    """At most ``limit`` hits per key per second (``limit`` 0: no limit)."""

    def __init__(self, limit: int, *, now: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._now = now
        self._second = -1
        self._counts: dict[str, int] = {}

    def hit(self, key: str) -> bool:
        """Count a hit; whether it is within the limit."""
        if self.limit <= 0:
            return True
        second = int(self._now())
        if second != self._second:
            self._second = second
            self._counts.clear()
        n = self._counts.get(key, 0) + 1
        self._counts[key] = n
        return n <= self.limit


class GateLimits:
    """The two windows of the database gate."""

    def __init__(self, per_consumer: int, per_ip: int) -> None:
        self.consumer = Window(per_consumer)
        self.ip = Window(per_ip)

    def allow(self, customer_id: int, ip: str) -> bool:
        # Both are counted even when the first refuses: a bot spreading over IPs still
        # spends its own per-consumer budget.
        by_customer = self.consumer.hit(str(customer_id))
        by_ip = self.ip.hit(ip) if ip else True
        return by_customer and by_ip
