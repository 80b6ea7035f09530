"""Callbacks a stand-in built: recorded whole (headers + raw body) and delivered over HTTP."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx


@dataclass
class Attempt:
    at: str
    status: int | None
    acknowledged: bool
    error: str | None = None


@dataclass
class RecordedCallback:
    """One notification exactly as the provider would send it (replayable byte for byte)."""

    provider: str  # "wechatpay" | "alipay"
    url: str
    headers: dict[str, str]
    body: str
    event: str  # TRANSACTION.SUCCESS, REFUND.SUCCESS, trade_status_sync:TRADE_SUCCESS, …
    out_trade_no: str
    merchant: str  # mchid / app_id
    id: str = field(default_factory=lambda: "cb_" + secrets.token_hex(8))
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return any(a.acknowledged for a in self.attempts)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "url": self.url,
            "method": "POST",
            "headers": dict(self.headers),
            "body": self.body,
            "event": self.event,
            "out_trade_no": self.out_trade_no,
            "merchant": self.merchant,
            "created_at": self.created_at,
            "acknowledged": self.acknowledged,
            "attempts": [a.__dict__ for a in self.attempts],
        }


class CallbackLog:
    """Every callback built, in order; thread-safe (the server thread and tests both write)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RecordedCallback] = []

    def add(self, cb: RecordedCallback) -> RecordedCallback:
        with self._lock:
            self._items.append(cb)
        return cb

    def get(self, cb_id: str) -> RecordedCallback | None:
        with self._lock:
            return next((c for c in self._items if c.id == cb_id), None)

    def list(
        self, *, out_trade_no: str | None = None, merchant: str | None = None
    ) -> list[RecordedCallback]:
        with self._lock:
            return [
                c
                for c in self._items
                if (out_trade_no is None or c.out_trade_no == out_trade_no)
                and (merchant is None or c.merchant == merchant)
            ]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


async def deliver(
    cb: RecordedCallback,
    acknowledged: Callable[[httpx.Response], bool],
    *,
    timeout_seconds: float = 5.0,
) -> Attempt:
    """POST the callback to its URL once and record the attempt."""
    at = datetime.now(UTC).isoformat()
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds) as client:
            resp = await client.post(cb.url, content=cb.body.encode(), headers=cb.headers)
        attempt = Attempt(at=at, status=resp.status_code, acknowledged=acknowledged(resp))
    except httpx.HTTPError as exc:
        attempt = Attempt(at=at, status=None, acknowledged=False, error=repr(exc))
    cb.attempts.append(attempt)
    return attempt
