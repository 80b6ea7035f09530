"""The web edge (issue #11, cases 15 and 19): security headers on every response, and
request bodies over the limit refused with 413 ``body_too_large`` before they are read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.web.edge import SECURITY_HEADERS

MIB = 1024 * 1024


def _assert_secured(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize(
    ("path", "accept", "status"),
    [
        ("/healthz", "application/json", 200),
        ("/console/login", "text/html", 200),
        ("/api/v1/nope", "application/json", 404),
        ("/static/app.css", "text/css", 200),
    ],
)
async def test_every_response_carries_the_security_headers(
    client: httpx.AsyncClient, path: str, accept: str, status: int
) -> None:
    r = await client.get(path, headers={"Accept": accept})
    assert r.status_code == status
    _assert_secured(r)


async def test_a_ten_mib_json_body_is_refused_before_it_is_read(app: Any, state: AppState) -> None:
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"{" * 65536, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/auth/token",
        "raw_path": b"/api/v1/auth/token",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(10 * MIB).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
        "app": app,
    }
    await app(scope, receive, send)

    assert reads == 0, "not one byte of the body was read"
    start = sent[0]
    assert start["status"] == 413
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert headers["content-type"] == "application/problem+json"
    for name, value in SECURITY_HEADERS:
        assert headers[name] == value
    assert b'"code":"body_too_large"' in sent[1]["body"]


async def test_a_body_over_the_limit_by_content_length_is_413(
    client: httpx.AsyncClient, state: AppState
) -> None:
    limit = state.settings.body_max_bytes
    assert limit == MIB
    r = await client.post(
        "/api/v1/auth/token",
        content=b" " * (limit + 1),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "body_too_large" and r.json()["max_bytes"] == limit
    form = await client.post("/console/login", data={"merchant": "x" * (limit + 1)})
    assert form.status_code == 413 and form.json()["code"] == "body_too_large"


async def test_a_chunked_body_is_counted_as_it_streams(client: httpx.AsyncClient) -> None:
    pulled = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(160):  # 10 MiB in 64 KiB chunks, with no Content-Length
            pulled += 1
            yield b" " * 65536

    r = await client.post(
        "/api/v1/auth/token", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert r.status_code == 413 and r.json()["code"] == "body_too_large"
    assert pulled <= 17, f"stopped at the limit, not after {pulled} chunks"


async def test_a_chunked_body_under_the_limit_reaches_the_route(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"merchant": "nope", '
        yield b'"phone": "13800000001", "password": "wrong-password"}'

    r = await client.post(
        "/api/v1/auth/token", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 401, r.text  # read, parsed and answered by the route


async def test_multipart_keeps_the_upload_limits(
    client: httpx.AsyncClient, state: AppState
) -> None:
    # Over the JSON/form limit but under the upload limit: the edge lets it through (the
    # route answers: no login CSRF token), whereas one over every limit is refused.
    big = b"x" * (2 * MIB)
    r = await client.post("/console/login", files={"file": ("a.csv", big)})
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    ceiling = max(state.settings.upload_max_bytes, state.settings.import_max_bytes)
    r = await client.post("/console/login", files={"file": ("a.csv", b"x" * (ceiling + MIB))})
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"
