"""The text rule at the door: path segments, query parameters, form posts and JSON bodies.

Request models carry the precise rule per field (``core.text.PlainText`` for one line,
``MultilineText`` for notes); this middleware is the floor under every route, typed or
not, so that no refused character reaches the database (PostgreSQL answers NUL with a
500). It refuses with 422 ``invalid_text`` naming the field:

* a path segment or query parameter with any character the single-line rule refuses;
* a form post (``application/x-www-form-urlencoded``) or JSON body with one the multi-line
  rule refuses (TAB, LF and CR are the notes' own; which fields are single-line is the
  request model's or the page's to say).

Bodies that must be recorded even when invalid are not looked at here: the payment
callbacks (unauthenticated; every attempt is recorded, then refused) and the service
account's message push keep their raw bytes (see ``payments.callbacks``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopmall.core.text import InvalidText, first_invalid

# Paths whose raw body is the evidence: recorded as received, judged afterwards.
RAW_BODY_PATHS = ("/api/v1/payments/callbacks/",)
# Larger bodies are left to the request models (uploads are multipart, not checked here).
MAX_CHECKED_BODY = 1_000_000
# A JSON string can carry a refused character only as a ``\\u`` escape (raw control
# characters are invalid JSON) or as the UTF-8 of a C1 control or a refused invisible.
_MAYBE_REFUSED_JSON = re.compile(
    rb"\\u|\xc2[\x80-\x9f]|\xe2\x80[\x8b\xaa-\xae]|\xe2\x81[\xa0\xa6-\xa9]|\xef\xbb\xbf|\xef\xbf[\xbe\xbf]"
)


def _path_field(scope: Scope) -> str:
    """The name of the path parameter holding the refused character, else ``path``.

    Only on the refusal path, so a walk over the routes is cheap enough; FastAPI keeps an
    included router whole (its prefix beside it), so the walk follows that shape and falls
    back to ``path`` whatever else it meets."""
    path = scope.get("path", "")
    try:
        return _param_in(getattr(scope.get("app"), "routes", ()), "", path) or "path"
    except Exception:  # naming the field is a courtesy; the refusal stands without it
        return "path"


def _param_in(routes: Any, prefix: str, path: str) -> str | None:
    for route in routes:
        regex = getattr(route, "path_regex", None)
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            found = _param_in(inner.routes, prefix + getattr(context, "prefix", ""), path)
            if found:
                return found
        elif regex is not None and path.startswith(prefix):
            match = regex.match(path[len(prefix) :])
            if match:
                for name, value in match.groupdict().items():
                    if first_invalid(value) is not None:
                        return str(name)
    return None


def _pairs_field(pairs: list[tuple[str, str]], *, multiline: bool) -> InvalidText | None:
    for name, value in pairs:
        for text in (name, value):
            char = first_invalid(text, multiline=multiline)
            if char is not None:
                field = name if first_invalid(name) is None else "query"
                return InvalidText(field, char)
    return None


def _walk_json(value: Any, where: str) -> InvalidText | None:
    if isinstance(value, str):
        char = first_invalid(value, multiline=True)
        return InvalidText(where or "body", char) if char is not None else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            if first_invalid(str(key)) is not None:
                return InvalidText(where or "body", first_invalid(str(key)))
            found = _walk_json(item, name)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _walk_json(item, f"{where}.{index}" if where else str(index))
            if found is not None:
                return found
    return None


def _body_problem(content_type: str, body: bytes) -> InvalidText | None:
    if content_type.startswith("application/x-www-form-urlencoded"):
        text = body.decode("latin-1")
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace")
        return _pairs_field(pairs, multiline=True)
    if "json" in content_type and _MAYBE_REFUSED_JSON.search(body):
        try:
            document = json.loads(body)
        except ValueError:
            return None  # FastAPI answers invalid JSON itself
        return _walk_json(document, "")
    return None


# The app's one shaper of error answers (problem+json, or the HTML error page): given by the
# app when it adds the middleware, because the page shell it may render sits above core.
ErrorResponder = Callable[[Request, int, dict[str, Any]], Response]


class RefuseInvalidText:
    """ASGI middleware applying ``core.text``'s rule to what every request brings; a refusal
    is answered by ``respond``."""

    def __init__(self, app: ASGIApp, respond: ErrorResponder) -> None:
        self.app = app
        self.respond = respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem: InvalidText | None = None
        char = first_invalid(scope.get("path", ""))
        if char is not None:
            problem = InvalidText(_path_field(scope), char)
        else:
            query = scope.get("query_string", b"").decode("latin-1")
            if query:
                pairs = parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace")
                problem = _pairs_field(pairs, multiline=False)
        if problem is None and self._checks_body(scope):
            body, receive = await _buffered(receive)
            if body is not None:
                content_type = _header(scope, b"content-type")
                problem = _body_problem(content_type, body)
        if problem is None:
            await self.app(scope, receive, send)
            return
        await _refuse(scope, receive, send, problem, self.respond)

    @staticmethod
    def _checks_body(scope: Scope) -> bool:
        if scope.get("method") not in ("POST", "PUT", "PATCH", "DELETE"):
            return False
        if scope.get("path", "").startswith(RAW_BODY_PATHS):
            return False
        content_type = _header(scope, b"content-type")
        if not (
            content_type.startswith("application/x-www-form-urlencoded") or "json" in content_type
        ):
            return False
        length = _header(scope, b"content-length")
        return not (length.isdigit() and int(length) > MAX_CHECKED_BODY)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1")).lower()
    return ""


async def _buffered(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole body, and a ``receive`` that hands it to the app again."""
    chunks: list[bytes] = []
    size = 0
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    body = b"".join(chunks) if size <= MAX_CHECKED_BODY else None
    return body, replay


async def _refuse(
    scope: Scope, receive: Receive, send: Send, problem: InvalidText, respond: ErrorResponder
) -> None:
    request = Request(scope, receive)
    body = problem.to_problem(instance=quote(scope.get("path", ""), safe="/"))
    response = respond(request, problem.status, body)
    await response(scope, receive, send)
