"""The web edge: what every response carries and what every request body may weigh.

* :class:`SecurityHeaders` — ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``
  with CSP ``frame-ancestors 'none'`` (nothing of ours frames our pages; the stand-ins'
  payer pages are separate apps), and ``Referrer-Policy: strict-origin-when-cross-origin``
  (same-origin pages still see the full referrer; WeChat Pay's H5 check sees our origin).
  A header a route set itself is kept.
* :class:`BodyLimit` — a JSON or form body over ``settings.body_max_bytes`` is refused with
  413 ``body_too_large`` before any route parses it: at once when ``Content-Length`` says so,
  and, for a body sent without a length (chunked), as soon as the bytes counted pass the
  limit. A ``multipart/form-data`` body (image uploads, imports) is held to the larger of
  ``upload_max_bytes`` and ``import_max_bytes`` here; each of those routes checks its own
  limit as it reads.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopmall.config import Settings

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("content-security-policy", "frame-ancestors 'none'"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
)
# Multipart framing (boundaries, part headers) on top of the file itself.
MULTIPART_SLACK = 64 * 1024


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _problem(limit: int) -> dict[str, Any]:
    return {
        "type": "https://loopmall.dev/problems/body_too_large",
        "title": "The request body is too large",
        "status": 413,
        "code": "body_too_large",
        "detail": f"Request bodies are limited to {limit:,} bytes",
        "max_bytes": limit,
    }


class BodyLimit:
    """Refuses request bodies over the limit before the app reads them (see the module)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type, declared = _content_headers(scope)
        multipart = content_type.startswith(b"multipart/form-data")
        limit = self._limit(multipart)
        if declared:
            # The server holds the body to the length it declared: one look decides.
            if not declared.isdigit() or int(declared) > limit:
                await self._refuse(scope, receive, send, limit)
                return
            await self.app(scope, receive, send)
            return
        if multipart:  # the upload and import routes count a chunked body as they read it
            await self.app(scope, receive, send)
            return
        # No length (chunked): count the body as it arrives, stop at the limit, and hand
        # the app what came (at most body_max_bytes, so holding it is cheap).
        chunks = await _read_up_to(receive, limit)
        if chunks is _GONE:
            return
        if chunks is _TOO_LARGE:
            await self._refuse(scope, receive, send, limit)
            return
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    def _limit(self, multipart: bool) -> int:
        """The body limit: the larger upload limit (and framing) for multipart bodies."""
        s = self.settings
        if multipart:
            return max(s.upload_max_bytes, s.import_max_bytes) + MULTIPART_SLACK
        return s.body_max_bytes

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = JSONResponse(
            _problem(limit),
            status_code=413,
            media_type="application/problem+json",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _content_headers(scope: Scope) -> tuple[bytes, bytes]:
    """The request's content type (lower case) and declared length, b"" when absent."""
    content_type, declared = b"", b""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            content_type = value.lower()
        elif name == b"content-length":
            declared = value
    return content_type, declared


# What _read_up_to answers instead of the chunks (compared by identity).
_GONE: list[bytes] = []  # the client went away
_TOO_LARGE: list[bytes] = []  # the bytes counted passed the limit


async def _read_up_to(receive: Receive, limit: int) -> list[bytes]:
    """The body's chunks as they arrive, up to ``limit`` bytes in all."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return _GONE
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return _TOO_LARGE
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then the client's own."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
