"""Login throttling: a login attempt must win a try before its password is checked.

Failed staff (and operator) logins are counted per window (``login_window_seconds``,
15 minutes) under three keys, each with its own limit (issue #11, case 11):

- **the account from one address** (``pair``): ``login_max_failures`` (5). This is the lock a
  guesser meets. It is per address so that an attacker who fails five times from address A
  locks only the pair (account, A): the owner logging in from address B is not locked out.
- **one address across accounts** (``address``): 4 × ``login_max_failures`` (20). Spraying
  one common password over many phone numbers from one place is stopped here; 20 leaves
  room for a shop's staff behind one NAT mistyping now and then.
- **one account across addresses** (``account``): ``ACCOUNT_FAILURES`` (100). A ceiling on a
  distributed guess of one password (≈ 10 000 guesses a day at most), set high on purpose:
  an attacker would need a hundred failures inside one window, from many addresses, to lock
  the owner out, and that is an attack the operators see, not a nuisance anyone can cause.

Every attempt counts against all three before the password is checked, atomically (a
check-then-act count let 30 parallel guesses through a limit of 5); a successful login
gives its try back (a shop's staff logging in all day never add up) and clears the pair.

With Redis configured the counters live there (shared by every app process; a Lua script
checks and counts all keys at once); otherwise in the ``login_attempts`` table, where the
keys are locked first (PostgreSQL: transaction advisory locks, in key order; SQLite: the
write transaction's ``BEGIN IMMEDIATE``) so that counts and inserts never interleave. The
database counts are the caller's transaction's: it commits after a failure (to remember it)
and rolls back a throttled attempt (which so never counts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.identity.models import LoginAttempt

ACCOUNT_FAILURES = 100
ADDRESS_FACTOR = 4


@dataclass(frozen=True)
class Limit:
    key: str
    max_failures: int


@dataclass
class Taken:
    """The try an attempt won: what to give back if its password is right."""

    keys: list[str]
    rows: list[int] = field(default_factory=list)


def login_limits(account: str, address: str, max_failures: int) -> tuple[Limit, Limit, Limit]:
    """The (pair, address, account) limits of one login attempt (see the module's notes)."""
    return (
        Limit(f"{account}@{address}", max_failures),
        Limit(f"ip:{address}", max_failures * ADDRESS_FACTOR),
        Limit(account, max(ACCOUNT_FAILURES, max_failures * ADDRESS_FACTOR)),
    )


class Throttle(Protocol):
    async def take(self, session: AsyncSession, limits: Sequence[Limit]) -> Taken | None:
        """Count one attempt against every key, unless one has reached its limit: then
        count nothing and return None."""
        ...

    async def give_back(self, session: AsyncSession, taken: Taken, clear: str) -> None:
        """A successful attempt: uncount it, and forget every failure of ``clear``."""
        ...

    async def failures(self, session: AsyncSession, key: str) -> int: ...


async def lock_keys(session: AsyncSession, keys: Sequence[str]) -> None:
    """Hold ``keys`` until the transaction ends, so that a count and the insert it allows
    are one step (PostgreSQL: advisory transaction locks, in key order so that two callers
    never wait on each other in a circle; SQLite: the write transaction's BEGIN IMMEDIATE
    already holds the database)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):
        lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


class DatabaseThrottle:
    def __init__(self, window_seconds: int) -> None:
        self.window = timedelta(seconds=window_seconds)

    async def failures(self, session: AsyncSession, key: str) -> int:
        since = clock.now() - self.window
        count = await session.scalar(
            select(func.count()).where(LoginAttempt.key == key, LoginAttempt.at >= since)
        )
        return int(count or 0)

    async def take(self, session: AsyncSession, limits: Sequence[Limit]) -> Taken | None:
        await lock_keys(session, [limit.key for limit in limits])
        for limit in limits:
            if await self.failures(session, limit.key) >= limit.max_failures:
                return None
        now = clock.now()
        rows = [LoginAttempt(key=limit.key, at=now) for limit in limits]
        session.add_all(rows)
        await session.flush()
        return Taken([limit.key for limit in limits], [row.id for row in rows])

    async def give_back(self, session: AsyncSession, taken: Taken, clear: str) -> None:
        await session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(taken.rows)))
        await session.execute(delete(LoginAttempt).where(LoginAttempt.key == clear))


# KEYS: the counters; ARGV[1]: the window in seconds; ARGV[1 + i]: the limit of KEYS[i].
_TAKE_LUA = """
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then return 0 end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return 1
"""

# KEYS: the counters to uncount; ARGV[1]: the one to delete.
_GIVE_BACK_LUA = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 and tonumber(redis.call('GET', key)) > 0 then
    redis.call('DECR', key)
  end
end
redis.call('DEL', ARGV[1])
return 1
"""


class RedisThrottle:
    """Fixed-window counters in Redis; failures survive the transaction being rolled back."""

    def __init__(self, redis: Any, window_seconds: int, prefix: str = "loopmall:") -> None:
        self.redis = redis
        self.window = window_seconds
        self.prefix = prefix

    def _k(self, key: str) -> str:
        return f"{self.prefix}login-fail:{key}"

    async def failures(self, session: AsyncSession, key: str) -> int:
        value = await self.redis.get(self._k(key))
        return int(value or 0)

    async def take(self, session: AsyncSession, limits: Sequence[Limit]) -> Taken | None:
        keys = [self._k(limit.key) for limit in limits]
        args = [self.window, *(limit.max_failures for limit in limits)]
        won = await self.redis.eval(_TAKE_LUA, len(keys), *keys, *args)
        return Taken([limit.key for limit in limits]) if int(won) == 1 else None

    async def give_back(self, session: AsyncSession, taken: Taken, clear: str) -> None:
        keys = [self._k(key) for key in taken.keys if key != clear]
        await self.redis.eval(_GIVE_BACK_LUA, len(keys), *keys, self._k(clear))
