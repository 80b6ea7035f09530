"""The gate's answers, ready-made and written whole.

Most of a flash sale's answers are the same few bytes again and again: "sold out" to
millions, and to the crowd's noise "token forged", "not reserved", "too many tries". Each
is made once per path (``Ready``). Under uvicorn's httptools protocol (what ``loopmall
serve`` runs) such an answer goes out in one ``transport.write`` of status line, headers
and body (``write_whole``): through ASGI it is two messages, two writes, and uvicorn
checks every header against its patterns each time — py-spy put uvicorn's writes at about
a quarter of the server's samples in the replay (issue #21). Anything else — another
server, a wrapped ``send``, an access log to keep, a paused transport — goes through ASGI
as usual, and the bytes on the wire are the same (tests/flashsale/test_answers.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.types import Send

# The server's own request cycle, to write through its transport (a uvicorn that renames
# what ``write_whole`` reads there falls back to ASGI; one that moves these fails at import,
# in tests/flashsale/test_answers.py first).
from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle as HttpToolsCycle


@dataclass(frozen=True, slots=True)
class Ready:
    """One answer, made once: its ASGI headers, and its bytes after the server's own
    headers (date, server) as uvicorn would write them."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    tail: bytes

    @classmethod
    def of(cls, status: int, body: bytes, kind: bytes, retry_after: bool = False) -> Ready:
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        if retry_after:
            headers.append((b"retry-after", b"1"))
        tail = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        return cls(status, tuple(headers), body, tail + b"\r\n" + body)

    async def send(self, send: Send) -> None:
        """Through ASGI (fresh messages: a middleware may change what it is given)."""
        start = {"type": "http.response.start", "status": self.status, "headers": [*self.headers]}
        await send(start)
        await send({"type": "http.response.body", "body": self.body})


class _Defaults:
    """The server's own headers as bytes, made again only when uvicorn replaces its list
    (once a second, for the date)."""

    source: Any = None
    encoded: bytes = b""

    @classmethod
    def of(cls, headers: list[tuple[bytes, bytes]]) -> bytes:
        if headers is not cls.source:
            cls.encoded = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
            cls.source = headers
        return cls.encoded


def write_whole(send: Send, ready: Ready) -> bool:
    """Write ``ready`` in one go through uvicorn's httptools cycle behind ``send``, doing
    what its two ``send`` calls would (the cycle's state, the next pipelined request).
    False, having done nothing, when ``send`` is anything else or the cycle is not in the
    plain state this copies (an access log, a closing connection, HEAD, a full buffer)."""
    cycle = getattr(send, "__self__", None)
    if type(cycle) is not HttpToolsCycle:
        return False
    assert isinstance(cycle, HttpToolsCycle)  # (for mypy: the check above)
    try:
        # Everything this copies is read before anything is written: a uvicorn whose cycle
        # is not the one this was written against (0.55) goes through ASGI, untouched.
        busy = (
            cycle.response_started
            or cycle.disconnected
            or cycle.access_log
            or not cycle.keep_alive
            or cycle.flow.write_paused
            or cycle.scope["method"] != "POST"
        )
        write, done, next_request = cycle.transport.write, cycle.message_event, cycle.on_response
        defaults = cycle.default_headers
        cycle.waiting_for_100_continue  # noqa: B018 (read to know it is there)
    except (AttributeError, KeyError):
        return False
    if busy or ready.status not in STATUS_LINE:
        return False
    cycle.response_started = True
    cycle.waiting_for_100_continue = False
    write(STATUS_LINE[ready.status] + _Defaults.of(defaults) + ready.tail)
    cycle.response_complete = True
    done.set()
    next_request()
    return True
