"""Login throttling: too many failures for one account or one address in a window → 429.

With Redis configured the counters live there (shared by every app process); otherwise in
the ``login_attempts`` table, which is enough for the single-process embedded default.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.identity.models import LoginAttempt


class Throttle(Protocol):
    async def failures(self, session: AsyncSession, key: str) -> int: ...
    async def record_failure(self, session: AsyncSession, key: str) -> None: ...
    async def clear(self, session: AsyncSession, key: str) -> None: ...


class DatabaseThrottle:
    def __init__(self, window_seconds: int) -> None:
        self.window = timedelta(seconds=window_seconds)

    async def failures(self, session: AsyncSession, key: str) -> int:
        since = clock.now() - self.window
        count = await session.scalar(
            select(func.count()).where(LoginAttempt.key == key, LoginAttempt.at >= since)
        )
        return int(count or 0)

    async def record_failure(self, session: AsyncSession, key: str) -> None:
        session.add(LoginAttempt(key=key, at=clock.now()))
        await session.flush()

    async def clear(self, session: AsyncSession, key: str) -> None:
        await session.execute(delete(LoginAttempt).where(LoginAttempt.key == key))


class RedisThrottle:
    """Fixed-window counters in Redis; failures survive the transaction being rolled back."""

    def __init__(self, redis: object, window_seconds: int, prefix: str = "loopmall:") -> None:
        self.redis = redis
        self.window = window_seconds
        self.prefix = prefix

    def _k(self, key: str) -> str:
        return f"{self.prefix}login-fail:{key}"

    async def failures(self, session: AsyncSession, key: str) -> int:
        value = await self.redis.get(self._k(key))  # type: ignore[attr-defined]
        return int(value or 0)

    async def record_failure(self, session: AsyncSession, key: str) -> None:
        pipe = self.redis.pipeline()  # type: ignore[attr-defined]
        pipe.incr(self._k(key))
        pipe.expire(self._k(key), self.window, nx=True)
        await pipe.execute()

    async def clear(self, session: AsyncSession, key: str) -> None:
        await self.redis.delete(self._k(key))  # type: ignore[attr-defined]
