"""HTTP caching where it is safe (issue #13): validators for anonymous mall pages, and
compression that keeps validators exact.

* :class:`AnonymousPageETags` — a ``GET`` of a mall page (``/m/…``) by someone without a
  shopper session (no shopper cookie, no ``Authorization``) whose answer is a whole ``200``
  HTML page that sets no cookie gets a strong ``ETag`` — the hash of exactly the bytes
  sent — and ``Cache-Control: no-cache`` (``private, no-cache`` when the request carried
  cookies, which a page may read: the share bar does): every use is revalidated, so a
  price change shows on the next request, while a page that did not change costs a
  ``304`` without a body.
  Signed-in shoppers, staff (a principal or shopper found while answering), answers that
  set a cookie (a first visit's ``lm_visitor``, a language switch), answers that chose
  their own caching and streamed answers pass untouched.
* :class:`Compression` — gzip (Starlette's ``GZipMiddleware``: text above a minimum size,
  streamed answers compressed chunk by chunk and never held back, ``text/event-stream``
  and images left alone, ``Vary: Accept-Encoding``) for clients that accept it. A strong
  ETag names one set of bytes, so the gzip form of a page gets its own tag (``"…-gzip"``);
  a client that revalidates with it is answered as for the plain tag, and its ``304``
  carries the tag it holds.

Both sit inside the flash-sale gate (``flashsale.lean.LeanGate``), which answers its
attempts before either sees them.
"""

from __future__ import annotations

import hashlib

from cachetools import LRUCache
from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    GZipResponder,
    IdentityResponder,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Revalidate on every use: the page is only as fresh as its last render. A request that
# carries cookies may get a page made for it (the share bar names the friend whose link
# brought the visitor, from a cookie): kept by that browser only.
REVALIDATE = "no-cache"
REVALIDATE_PRIVATE = "private, no-cache"
# A page differs by language (query, cookie or Accept-Language) and by who asks.
PAGE_VARY = "Accept-Language, Cookie"
# A mall page is a few tens of KB; anything far larger is not a page to hash and hold.
MAX_HASHED_BYTES = 2 * 1024 * 1024
# Below this a gzip header and the round trip of deflate win nothing (a problem answer,
# /healthz); above it HTML, CSS, JS and JSON shrink to a fifth or less.
COMPRESS_MIN_BYTES = 1024
# 29 KB of our CSS, best of 5×50 on the shared 2-core box: level 1 → 8.6 KB in 0.64 ms,
# 4 → 7.3 KB in 1.0 ms, 6 (zlib's default) → 6.8 KB in 1.8 ms, 9 → 6.8 KB in 2.1 ms.
# Level 4: within 7 % of the best size for about half of level 6's time; what is packed
# once per content (below) hardly counts, but a signed-in shopper's page is packed anew.
COMPRESS_LEVEL = 4
# The packed bytes of whole answers that carry a strong ETag (a page everyone sees, a
# static file), by the hash of their plain bytes: a crowd on one product page costs one
# compression per change of the page, not one per request.
PACKED_CACHE_BYTES = 16 * 1024 * 1024
# Starlette's list (images, fonts, archives, event streams) and what we serve packed
# already: printed posters (PDF streams are deflated) and spreadsheet exports (zip).
NOT_PACKED = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
GZIP_SUFFIX = '-gzip"'


def strong_etag(body: bytes) -> str:
    """A strong validator for exactly these bytes."""
    # SHA-1 runs on the CPU's SHA instructions: 15 KB in 8 µs where BLAKE2b took 55 µs and
    # MD5 71 µs (best of 10×500, shared 2-core box). Collisions need a chosen pair of pages
    # and would only fool a revalidation.
    return '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"'


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return b""


def _tags(if_none_match: str) -> set[str]:
    """The entity tags of an ``If-None-Match`` (weak ones compared as strong: RFC 9110
    §13.1.2 compares them weakly)."""
    return {t.strip().removeprefix("W/") for t in if_none_match.split(",") if t.strip()}


def _matches(if_none_match: str, etag: str) -> bool:
    tags = _tags(if_none_match)
    return "*" in tags or etag in tags


class AnonymousPageETags:
    """ETag and 304 for anonymous mall pages (see the module)."""

    def __init__(
        self, app: ASGIApp, *, shopper_cookie_prefix: str, path_prefix: str = "/m/"
    ) -> None:
        self.app = app
        self.shopper_cookie = shopper_cookie_prefix.encode()
        self.path_prefix = path_prefix

    def _anonymous_page_request(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(self.path_prefix)
            and not _header(scope, b"authorization")
            and self.shopper_cookie not in _header(scope, b"cookie")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._anonymous_page_request(scope):
            await self.app(scope, receive, send)
            return
        # The routes record who they found (request.state.shopper / .principal) in the
        # scope's state; make it one dict that every copy of the scope shares.
        state = scope.setdefault("state", {})
        private = bool(_header(scope, b"cookie"))
        validators = _PageAnswer(
            send, state, _header(scope, b"if-none-match").decode("latin-1"), private=private
        )
        await self.app(scope, receive, validators.send)


class _PageAnswer:
    """One answer passing through :class:`AnonymousPageETags`: held while it may get a
    validator, passed on as it comes once it cannot."""

    def __init__(
        self, send: Send, state: dict[str, object], if_none_match: str, *, private: bool
    ) -> None:
        self._send = send
        self._cache_control = REVALIDATE_PRIVATE if private else REVALIDATE
        self._state = state
        self._if_none_match = if_none_match
        self._start: Message | None = None
        self._chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if _cacheable_start(message):
                self._start = message  # held until the whole body is here
                return
        elif message["type"] == "http.response.body" and self._start is not None:
            self._chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await self._finish()
            return
        await self._send(message)

    async def _finish(self) -> None:
        start, body = self._start, b"".join(self._chunks)
        assert start is not None
        if self._state.get("shopper") is not None or self._state.get("principal") is not None:
            await self._send(start)  # someone was signed in after all: theirs alone
            await self._send({"type": "http.response.body", "body": body})
            return
        etag = strong_etag(body)
        if self._if_none_match and _matches(self._if_none_match, etag):
            validators = [
                (b"etag", etag.encode()),
                (b"cache-control", self._cache_control.encode()),
                (b"vary", PAGE_VARY.encode()),
            ]
            await self._send({"type": "http.response.start", "status": 304, "headers": validators})
            await self._send({"type": "http.response.body", "body": b""})
            return
        headers = MutableHeaders(scope=start)
        headers["etag"] = etag
        headers["cache-control"] = self._cache_control
        headers.add_vary_header(PAGE_VARY)
        await self._send(start)
        await self._send({"type": "http.response.body", "body": body})


def _cacheable_start(message: Message) -> bool:
    """Whether an answer may get a validator, judged from its status and headers: a whole
    200 HTML page (its length known, so not streamed) that sets no cookie and did not
    choose its own caching."""
    if message["status"] != 200:
        return False
    names: dict[bytes, bytes] = {k.lower(): v for k, v in message.get("headers", ())}
    length = names.get(b"content-length", b"")
    return (
        names.get(b"content-type", b"").startswith(b"text/html")
        and length.isdigit()
        and int(length) <= MAX_HASHED_BYTES
        and b"set-cookie" not in names
        and b"etag" not in names
        and b"cache-control" not in names
    )


class Compression:
    """gzip for clients that accept it, with strong ETags kept exact (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        minimum_size: int = COMPRESS_MIN_BYTES,
        level: int = COMPRESS_LEVEL,
        cache_bytes: int = PACKED_CACHE_BYTES,
    ) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.level = level
        self.packed: LRUCache[str, bytes] = LRUCache(maxsize=cache_bytes, getsizeof=len)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"gzip" not in _header(scope, b"accept-encoding"):
            # Still says "Vary: Accept-Encoding" on what it would have packed.
            identity = IdentityResponder(
                self.app, self.minimum_size, exclude_content_types=NOT_PACKED
            )
            await identity(scope, receive, send)
            return
        scope, held = _plain_tags(scope)

        async def send_exact(message: Message) -> None:
            if message["type"] == "http.response.start":
                _tag_encoded(message, held)
            await send(message)

        packer = _PackedOnce(self.app, self.minimum_size, self.level, self.packed)
        await packer(scope, receive, send_exact)


class _PackedOnce(GZipResponder):
    """Starlette's gzip responder that keeps the packed bytes of a whole answer with a
    strong ETag, by the hash of its plain bytes (what identifies them, whoever set the
    tag)."""

    def __init__(
        self, app: ASGIApp, minimum_size: int, level: int, packed: LRUCache[str, bytes]
    ) -> None:
        super().__init__(app, minimum_size, compresslevel=level, exclude_content_types=NOT_PACKED)
        self.packed = packed
        self.streaming = False

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        self.streaming = self.streaming or more_body  # a stream's chunks are packed as they come
        etag = MutableHeaders(raw=self.initial_message.get("headers", [])).get("etag", "")
        if self.streaming or not etag.startswith('"'):
            return await super().apply_compression(body, more_body=more_body)
        key = strong_etag(body)
        packed = self.packed.get(key)
        if packed is None:
            packed = await super().apply_compression(body, more_body=False)
            if len(packed) <= self.packed.maxsize // 16:  # one answer never crowds out the rest
                self.packed[key] = packed
        return packed


def _plain_tags(scope: Scope) -> tuple[Scope, set[str]]:
    """The request with the gzip tags of its ``If-None-Match`` turned back into the tags of
    the plain bytes (what the app compares), and the plain tags the client held in gzip."""
    if_none_match = _header(scope, b"if-none-match").decode("latin-1")
    if GZIP_SUFFIX not in if_none_match:
        return scope, set()
    tags = _tags(if_none_match)
    held = {t.removesuffix(GZIP_SUFFIX) + '"' for t in tags if t.endswith(GZIP_SUFFIX)}
    plain = ", ".join(
        t.removesuffix(GZIP_SUFFIX) + '"' if t.endswith(GZIP_SUFFIX) else t for t in tags
    )
    headers = [(k, v) for k, v in scope["headers"] if k != b"if-none-match"]
    headers.append((b"if-none-match", plain.encode("latin-1")))
    return {**scope, "headers": headers}, held


def _tag_encoded(message: Message, held: set[str]) -> None:
    """Give the gzip bytes their own strong tag; a 304 answers with the tag the client
    holds."""
    headers = MutableHeaders(scope=message)
    etag = headers.get("etag")
    if etag is None or not etag.startswith('"'):
        return  # no tag, or a weak one (which compares equal across encodings)
    if headers.get("content-encoding") == "gzip":
        headers["etag"] = etag[:-1] + GZIP_SUFFIX
    elif message["status"] == 304 and etag in held:
        headers["etag"] = etag[:-1] + GZIP_SUFFIX
        if "accept-encoding" not in headers.get("vary", "").lower():
            headers.add_vary_header("Accept-Encoding")
