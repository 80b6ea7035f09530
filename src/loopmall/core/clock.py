"""Time comes from here (CONVENTIONS rule 5). Tests move it with :class:`FrozenClock`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until moved; for tests and replays."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **kwargs: float) -> datetime:
        self._now = self._now + timedelta(**kwargs)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


_clock: Clock = SystemClock()


def now() -> datetime:
    """The current time in UTC, from the installed clock."""
    return _clock.now()


def install(clock: Clock) -> Clock:
    """Replace the process clock; returns the previous one so callers can restore it."""
    global _clock
    previous = _clock
    _clock = clock
    return previous


def local(dt: datetime) -> datetime:
    """Show a stored UTC time in Asia/Shanghai."""
    return dt.astimezone(SHANGHAI)
