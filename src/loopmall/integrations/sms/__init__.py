"""SMS: a small Protocol with two senders — the console (dev: the text goes to the log)
and an HTTP gateway (the SMS stand-in in tests and the demo, a provider in production).

The HTTP protocol: ``POST {base}/v1/messages`` with JSON ``{"to", "text", "out_id"}``;
the answer is ``{"code": "OK", "message_id"}`` or ``{"code": <error>, "message"}``.
``out_id`` is our idempotency key: the gateway sends a given ``out_id`` at most once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from loopmall.config import Settings
from loopmall.core.errors import LoopmallError
from loopmall.integrations.tls import tls_context

log = logging.getLogger("loopmall.sms")


class SmsFailed(LoopmallError):
    status = 502
    code = "sms_failed"
    title = "The text message could not be sent"
    permanent = False


class SmsSender(Protocol):
    async def send(self, phone: str, text: str, *, out_id: str) -> str:
        """Send ``text`` to ``phone``; returns the gateway's message id. Raises SmsFailed."""
        ...


@dataclass
class ConsoleSmsSender:
    """Dev: writes each message to the log (and keeps the last ones for a look)."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)

    async def send(self, phone: str, text: str, *, out_id: str) -> str:
        log.warning("SMS to %s: %s", phone, text)
        self.sent.append((phone, text, out_id))
        del self.sent[:-100]
        return f"console-{out_id}"


class HttpSmsSender:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._transport = transport

    async def send(self, phone: str, text: str, *, out_id: str) -> str:
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout, transport=self._transport, verify=tls_context()
            ) as http:
                response = await http.post(
                    f"{self.base_url}/v1/messages",
                    json={"to": phone, "text": text, "out_id": out_id},
                )
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SmsFailed(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300 or data.get("code") != "OK":
            error = SmsFailed(
                f"gateway said {data.get('code')}: {data.get('message', '')}",
                gateway_code=str(data.get("code")),
            )
            # A refusal of this message (bad number…) will not change on a retry.
            error.permanent = 400 <= response.status_code < 500
            raise error
        return str(data.get("message_id", ""))


_console = ConsoleSmsSender()


def sender_for(settings: Settings) -> SmsSender:
    """The HTTP sender when ``sms_base_url`` is set, otherwise the console."""
    if settings.sms_base_url:
        return HttpSmsSender(settings.sms_base_url, timeout=settings.http_timeout_seconds)
    return _console
