"""The gate's own wire to Redis: EVALSHA of one script, many attempts per write.

Profiling the lean route (bench/flashsale) showed redis-py spending most of an attempt's
CPU outside Redis: packing 16 arguments through its encoders, its pure-Python reply parser,
and a tracing/metrics provider lookup per command (≈130 µs of CPU per attempt in-process,
against ≈11 µs for the hello route). This module packs RESP itself, writes every attempt
waiting at that moment in one ``write`` on one of a few raw connections, and parses the
small replies (arrays of bulk strings and integers) itself. Redis still runs one script,
hence one atomic step, per attempt. ``ScriptBatcher`` batches the same way through a redis-py
client, for a gate built without the URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio.connection import parse_url

INCOMPLETE = object()


class ReplyError(Exception):
    """An error reply from Redis (``-ERR …``, ``-NOSCRIPT …``)."""


def bulk(value: Any) -> bytes:
    """One RESP bulk string."""
    raw = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%s\r\n" % (len(raw), raw)


def pack(*parts: Any) -> bytes:
    """One command in RESP."""
    return b"*%d\r\n" % len(parts) + b"".join(bulk(p) for p in parts)


def parse(buf: bytes | bytearray, pos: int) -> tuple[Any, int] | object:
    """One reply from ``buf`` at ``pos``: ``(value, next position)``, or ``INCOMPLETE``."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return INCOMPLETE
    kind, line, pos = buf[pos], bytes(buf[pos + 1 : end]), end + 2
    if kind == 0x2B:  # +
        return line.decode(), pos
    if kind == 0x2D:  # -
        return ReplyError(line.decode()), pos
    if kind == 0x3A:  # :
        return int(line), pos
    if kind == 0x24:  # $
        n = int(line)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            return INCOMPLETE
        return bytes(buf[pos : pos + n]).decode(), pos + n + 2
    if kind == 0x2A:  # *
        n = int(line)
        if n < 0:
            return None, pos
        items: list[Any] = []
        for _ in range(n):
            found = parse(buf, pos)
            if not isinstance(found, tuple):
                return INCOMPLETE
            items.append(found[0])
            pos = found[1]
        return items, pos
    raise ReplyError(f"unexpected reply type {chr(kind)!r}")


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()

    async def roundtrip(self, payload: bytes, replies: int) -> list[Any]:
        self.writer.write(payload)
        await self.writer.drain()
        out: list[Any] = []
        pos = 0
        while len(out) < replies:
            found = parse(self.buf, pos) if len(self.buf) > pos else INCOMPLETE
            if not isinstance(found, tuple):
                chunk = await self.reader.read(1 << 16)
                if not chunk:
                    raise ConnectionError("Redis closed the connection")
                del self.buf[:pos]
                pos = 0
                self.buf += chunk
                continue
            out.append(found[0])
            pos = found[1]
        del self.buf[:pos]
        return out

    def close(self) -> None:
        self.writer.close()


# One waiting call: "*n EVALSHA", then "numkeys keys… args…", and the caller's future.
Queued = tuple[bytes, bytes, "asyncio.Future[Any]"]


class ScriptPipe:
    """Runs one Lua script for many concurrent callers over at most ``connections`` raw
    connections: each connection carries one batch at a time (write all, read all)."""

    def __init__(
        self, url: str, source: str, *, connections: int = 2, max_batch: int = 1024
    ) -> None:
        self.options = parse_url(url)
        self.source = source
        self.sha: str | None = None
        self.connections = connections
        self.max_batch = max_batch
        self._queue: list[Queued] = []
        self._idle: list[_Connection] = []
        self._open = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def _connect(self) -> _Connection:
        o = self.options
        if "path" in o:
            reader, writer = await asyncio.open_unix_connection(o["path"])
        else:
            reader, writer = await asyncio.open_connection(
                o.get("host", "localhost"), o.get("port", 6379)
            )
        conn = _Connection(reader, writer)
        setup = []
        if o.get("password"):
            setup.append(
                pack("AUTH", *([o["username"]] if o.get("username") else []), o["password"])
            )
        if o.get("db"):
            setup.append(pack("SELECT", o["db"]))
        setup.append(pack("SCRIPT", "LOAD", self.source))
        try:
            replies = await conn.roundtrip(b"".join(setup), len(setup))
        except BaseException:
            conn.close()
            raise
        for reply in replies:
            if isinstance(reply, ReplyError):
                conn.close()
                raise reply
        self.sha = replies[-1]
        return conn

    async def call(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        tail = bulk(len(keys)) + b"".join(bulk(x) for x in (*keys, *args))
        return await self.call_encoded(len(keys) + len(args) + 1, tail)

    async def call_encoded(self, parts: int, tail: bytes) -> Any:
        """Run the script with ``tail``: numkeys, keys and args already as RESP bulk
        strings (``parts`` of them) — the gate keeps a sale's fixed ones encoded."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((b"*%d\r\n$7\r\nEVALSHA\r\n" % (parts + 2), tail, future))
        if self._idle or self._open < self.connections:
            self._start()
        return await future

    def _start(self) -> None:
        conn = self._idle.pop() if self._idle else None
        if conn is None:
            self._open += 1
        task = asyncio.create_task(self._run(conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, conn: _Connection | None) -> None:
        batch: list[Queued] = []
        try:
            if conn is None:
                conn = await self._connect()
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                await self._send(conn, batch)
                batch = []
            self._idle.append(conn)
        except Exception as exc:
            # The connection is dropped (the next call opens another); the callers of the
            # batch on it learn of the failure, and so do the waiting ones if no other
            # connection is left to serve them.
            self._open -= 1
            if conn is not None:
                conn.close()
            failed = list(batch)
            if not self._tasks - {asyncio.current_task()}:
                failed += self._queue
                self._queue = []
            for _h, _t, future in failed:
                if not future.done():
                    future.set_exception(exc)

    async def _send(self, conn: _Connection, batch: list[Queued]) -> None:
        for _attempt in range(2):
            sha = bulk(self.sha or "")
            payload = b"".join(head + sha + tail for head, tail, _f in batch)
            replies = await conn.roundtrip(payload, len(batch))
            missing = []
            for item, reply in zip(batch, replies, strict=True):
                future = item[2]
                if isinstance(reply, ReplyError) and str(reply).startswith("NOSCRIPT"):
                    missing.append(item)
                elif future.done():  # the caller went away meanwhile
                    continue
                elif isinstance(reply, ReplyError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
            if not missing:
                return
            # Redis restarted or flushed its scripts: load again, resend those.
            (self.sha,) = await conn.roundtrip(pack("SCRIPT", "LOAD", self.source), 1)
            batch = missing
        for _h, _t, future in batch:
            if not future.done():
                future.set_exception(ReplyError("NOSCRIPT: the gate script could not be loaded"))

    async def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


class ScriptBatcher:
    """EVALSHA calls of concurrent requests leave together, one pipeline per batch, with at
    most ``max_in_flight`` pipelines on the wire: under load one round trip carries many
    attempts, and a few connections serve thousands of clients (redis-py's pool refuses
    more than 100 at once). Still one script, hence one atomic step, per attempt."""

    def __init__(self, redis: Any, source: str, *, max_in_flight: int = 4, max_batch: int = 512):
        self.redis = redis
        self.source = source
        self.sha: str | None = None
        self.max_in_flight = max_in_flight
        self.max_batch = max_batch
        self._queue: list[tuple[Sequence[Any], Sequence[Any], asyncio.Future[Any]]] = []
        self._running = 0
        self._starting = False

    async def call(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((keys, args, future))
        if not self._starting and self._running < self.max_in_flight:
            self._starting = True
            self._running += 1
            task = asyncio.create_task(self._drain())
            _TASKS.add(task)
            task.add_done_callback(_TASKS.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                self._starting = False
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                try:
                    await self._send(batch)
                except Exception as exc:
                    for _k, _a, future in batch:
                        if not future.done():
                            future.set_exception(exc)
        finally:
            self._starting = False
            self._running -= 1

    async def _send(
        self, batch: list[tuple[Sequence[Any], Sequence[Any], asyncio.Future[Any]]]
    ) -> None:
        from redis.exceptions import NoScriptError

        if self.sha is None:
            self.sha = await self.redis.script_load(self.source)
        for _attempt in range(2):
            pipe = self.redis.pipeline(transaction=False)
            for keys, args, _f in batch:
                pipe.evalsha(self.sha, len(keys), *keys, *args)
            results = await pipe.execute(raise_on_error=False)
            missing = []
            for item, result in zip(batch, results, strict=True):
                if isinstance(result, NoScriptError):
                    missing.append(item)
                elif item[2].done():  # the client went away meanwhile
                    continue
                elif isinstance(result, Exception):
                    item[2].set_exception(result)
                else:
                    item[2].set_result(result)
            if not missing:
                return
            # Redis restarted or its script cache was flushed: load again, resend those.
            self.sha = await self.redis.script_load(self.source)
            batch = missing
        for _k, _a, future in batch:
            if not future.done():
                future.set_exception(NoScriptError("gate script could not be loaded"))


_TASKS: set[asyncio.Task[None]] = set()
