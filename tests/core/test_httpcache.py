"""HTTP caching where it is safe (issue #13): ETag and 304 for anonymous mall pages, a
year's lifetime for fingerprinted static files and uploads, gzip when asked — and none of
it for a signed-in shopper, the console, an answer that sets a cookie, or the flash-sale
gate."""

from __future__ import annotations

import asyncio
import re
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

import loopmall
from loopmall.app import create_server_app
from loopmall.config import Settings
from loopmall.core.httpcache import AnonymousPageETags, Compression, strong_etag
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import cookie_name, sandbox_login
from loopmall.flashsale.lean import LeanGate
from loopmall.web.assets import IMMUTABLE, asset_url
from tests.factories import make_staff, token_for
from tests.storefront.seed import Mall, seed_mall

PLAIN = {"Accept": "text/html", "Accept-Encoding": "identity"}
GZIP = {"Accept": "text/html", "Accept-Encoding": "gzip"}
BARE = re.compile(r'(?:href|src)="/static/[^"]*"')
ASSET_NAME = re.compile(r'asset\("([^"]+)"\)')
FINGERPRINTED = re.compile(r'(?:href|src)="(/static/[^"?]+\?v=[0-9a-f]{12})"')


@pytest.fixture
async def mall(state: AppState) -> Mall:
    return await seed_mall(state)


def _secured(response: httpx.Response) -> bool:
    return response.headers.get("x-frame-options") == "DENY" and (
        response.headers.get("x-content-type-options") == "nosniff"
    )


async def test_an_unchanged_page_is_answered_304_and_a_price_change_with_the_new_page(
    state: AppState, client: httpx.AsyncClient, mall: Mall
) -> None:
    path = f"/m/vero/p/{mall.coat}"
    first = await client.get(path, headers=PLAIN)
    assert first.status_code == 200
    assert first.headers["etag"] == strong_etag(first.content)  # exactly the bytes sent
    assert first.headers["cache-control"] == "no-cache"
    assert "content-encoding" not in first.headers

    again = await client.get(path, headers=PLAIN | {"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == "no-cache"
    assert _secured(again), "the 304 keeps the security headers"

    await make_staff(state, mall.tenant)
    owner = await token_for(client, "vero", "13800000001")
    changed = await client.patch(
        f"/api/v1/skus/{mall.skus['黑/M']}", json={"price": 55500}, headers=owner
    )
    assert changed.status_code == 200, changed.text

    after = await client.get(path, headers=PLAIN | {"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200
    assert '"price": 55500' in after.text or '"price":55500' in after.text
    assert after.headers["etag"] == strong_etag(after.content) != first.headers["etag"]


async def test_a_signed_in_shopper_gets_no_validator(
    state: AppState, client: httpx.AsyncClient, mall: Mall
) -> None:
    path = f"/m/vero/p/{mall.coat}"
    anonymous = await client.get(path, headers=PLAIN)
    async with UnitOfWork(state.write_factory) as uow:
        _customer, token = await sandbox_login(uow.session, mall.tenant, name="小明")
        await uow.commit()
    cookie = f"{cookie_name(state.settings, 'vero')}={token}"
    signed_in = await client.get(
        path, headers=PLAIN | {"Cookie": cookie, "If-None-Match": anonymous.headers["etag"]}
    )
    assert signed_in.status_code == 200
    assert "etag" not in signed_in.headers and "cache-control" not in signed_in.headers
    bearer = await client.get(path, headers=PLAIN | {"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200 and "etag" not in bearer.headers


async def test_no_validator_for_console_pages_cookie_setting_answers_or_errors(
    client: httpx.AsyncClient, mall: Mall
) -> None:
    console = await client.get("/console/login", headers=PLAIN)
    assert console.status_code == 200 and "etag" not in console.headers
    # ?lang= sets the language cookie: that answer is not one to share or revalidate.
    switched = await client.get("/m/vero/?lang=en", headers=PLAIN)
    assert switched.status_code == 200 and "set-cookie" in switched.headers
    assert "etag" not in switched.headers
    missing = await client.get("/m/vero/p/prd_nosuchthing", headers=PLAIN)
    assert missing.status_code == 404 and "etag" not in missing.headers


async def test_a_request_with_cookies_is_kept_by_its_browser_only(
    client: httpx.AsyncClient, mall: Mall
) -> None:
    english = await client.get("/m/vero/", headers=PLAIN | {"Cookie": "lm_lang=en"})
    assert english.status_code == 200
    assert english.headers["cache-control"] == "private, no-cache"
    assert english.headers["etag"] == strong_etag(english.content)
    chinese = await client.get("/m/vero/", headers=PLAIN)
    assert chinese.headers["etag"] != english.headers["etag"]
    assert {"Accept-Language", "Cookie"} <= {v.strip() for v in chinese.headers["vary"].split(",")}


async def test_gzip_when_asked_with_its_own_validator(
    client: httpx.AsyncClient, mall: Mall
) -> None:
    path = f"/m/vero/p/{mall.coat}"
    plain = await client.get(path, headers=PLAIN)
    packed = await client.get(path, headers=GZIP)
    assert packed.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["vary"]
    assert int(packed.headers["content-length"]) < len(plain.content) // 2
    assert packed.content == plain.content  # httpx unpacked it: the same page
    assert packed.headers["etag"] == plain.headers["etag"][:-1] + '-gzip"'

    again = await client.get(path, headers=GZIP | {"If-None-Match": packed.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == packed.headers["etag"]
    assert "content-encoding" not in plain.headers


async def test_fingerprinted_assets_resolve_and_are_kept_a_year(
    client: httpx.AsyncClient, mall: Mall
) -> None:
    pages = [f"/m/vero/p/{mall.coat}", "/m/vero/", "/console/login"]
    urls = set()
    for page in pages:
        urls |= set(FINGERPRINTED.findall((await client.get(page, headers=PLAIN)).text))
    assert {u.split("?")[0] for u in urls} >= {
        "/static/app.css",
        "/static/app.js",
        "/static/mall.css",
        "/static/storefront.css",
    }
    for url in sorted(urls):
        r = await client.get(url, headers={"Accept-Encoding": "identity"})
        assert r.status_code == 200, url
        assert r.headers["cache-control"] == IMMUTABLE, url
        revalidated = await client.get(url, headers={"If-None-Match": r.headers["etag"]})
        assert revalidated.status_code == 304
        assert revalidated.headers["cache-control"] == IMMUTABLE

    current = next(u for u in urls if u.startswith("/static/app.css"))
    body = (await client.get(current)).content
    # A page of the last deploy (another fingerprint), or none: today's file, kept briefly.
    for stale in ("/static/app.css?v=000000000000", "/static/app.css"):
        r = await client.get(stale)
        assert (r.status_code, r.content) == (200, body)
        assert r.headers["cache-control"] == "no-cache"


async def test_uploads_are_kept_a_year(state: AppState, client: httpx.AsyncClient) -> None:
    folder = state.settings.upload_dir / "mch_test" / "products"
    folder.mkdir(parents=True)
    (folder / "abc.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 2000)
    r = await client.get("/uploads/mch_test/products/abc.png", headers=GZIP)
    assert r.status_code == 200
    assert r.headers["cache-control"] == IMMUTABLE
    assert "content-encoding" not in r.headers  # images are not packed again


def test_the_gate_sits_outside_compression_and_validators(app: Any) -> None:
    order = [m.cls for m in app.user_middleware]  # outermost first
    assert order.index(LeanGate) < order.index(Compression) < order.index(AnonymousPageETags)


async def test_the_served_gate_answers_the_same_whatever_the_client_accepts(
    settings: Settings,
) -> None:
    served = create_server_app(settings)
    fastapi_app = served.owner
    async with fastapi_app.router.lifespan_context(fastapi_app):
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            answers = []
            for encoding in ("gzip", "identity"):
                r = await c.post(
                    "/api/v1/mall/shop/flash/nosuchsale/buy",
                    json={"token": "x"},
                    headers={"Accept-Encoding": encoding},
                )
                answers.append((r.status_code, sorted(r.headers.items()), r.content))
    assert answers[0] == answers[1]
    status, headers, _ = answers[0]
    assert status == 404
    assert "vary" not in dict(headers) and "content-encoding" not in dict(headers)


async def test_streamed_answers_are_passed_on_as_they_come() -> None:
    """A stream (an export, a chat feed) is neither held for a validator nor for gzip: its
    first chunk leaves before the second is made."""
    second_may_come = asyncio.Event()

    async def chunks() -> Any:
        yield "<p>" + "first " * 400 + "</p>"
        await second_may_come.wait()
        yield "<p>second</p>"

    async def stream(_request: Request) -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/html")

    app = Compression(
        AnonymousPageETags(Starlette(routes=[Route("/m/x/", stream)]), shopper_cookie_prefix="s_")
    )
    sent: list[dict[str, Any]] = []
    first_left = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            first_left.set()

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client sends nothing more
        return {}

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/m/x/",
        "raw_path": b"/m/x/",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("testserver", 80),
        "headers": [(b"accept-encoding", b"gzip"), (b"host", b"testserver")],
    }
    task = asyncio.create_task(app(scope, receive, send))
    await asyncio.wait_for(first_left.wait(), timeout=5)
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert start["status"] == 200 and headers["content-encoding"] == "gzip"
    assert "etag" not in headers
    packed_so_far = b"".join(m.get("body", b"") for m in sent[1:])
    # Flushed, not held: what left so far unpacks to the whole first chunk.
    assert (
        zlib.decompressobj(16 + zlib.MAX_WBITS)
        .decompress(packed_so_far)
        .startswith(b"<p>first first")
    )
    assert b"second" not in zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(packed_so_far)
    second_may_come.set()
    await asyncio.wait_for(task, timeout=5)


async def test_a_page_everyone_sees_is_packed_once_per_content() -> None:
    page = {"body": "<p>" + "羊毛大衣 ¥599.00 " * 300 + "</p>"}

    async def shared(_request: Request) -> HTMLResponse:
        return HTMLResponse(page["body"], headers={"ETag": strong_etag(page["body"].encode())})

    async def personal(_request: Request) -> HTMLResponse:
        return HTMLResponse(page["body"])  # no strong tag: packed anew each time

    compression = Compression(
        Starlette(routes=[Route("/shared", shared), Route("/personal", personal)])
    )
    transport = httpx.ASGITransport(app=compression)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        first = await c.get("/shared", headers={"Accept-Encoding": "gzip"})
        second = await c.get("/shared", headers={"Accept-Encoding": "gzip"})
        assert len(compression.packed) == 1
        assert first.headers["etag"] == second.headers["etag"]
        assert first.headers["etag"].endswith('-gzip"')
        page["body"] = page["body"].replace("599", "555")  # the price changed
        third = await c.get("/shared", headers={"Accept-Encoding": "gzip"})
        assert "¥555.00" in third.text and len(compression.packed) == 2
        await c.get("/personal", headers={"Accept-Encoding": "gzip"})
        assert len(compression.packed) == 2
    (packed,) = [
        v for k, v in compression.packed.items() if k == strong_etag(page["body"].encode())
    ]
    assert zlib.decompress(packed, 16 + zlib.MAX_WBITS) == page["body"].encode()


def test_every_template_names_its_static_files_through_asset() -> None:
    """A bare /static/… URL would be served with no-cache for ever: every template names
    its CSS and JS with {{ asset("…") }}, and every name it gives is a file."""
    package = Path(loopmall.__file__).parent
    bare, named = [], set()
    for template in sorted(package.glob("*/templates/**/*.html")):
        text = template.read_text(encoding="utf-8")
        bare += [f"{template.relative_to(package)}: {m}" for m in BARE.findall(text)]
        named |= set(ASSET_NAME.findall(text))
    assert bare == []
    assert {"app.css", "app.js", "mall.css", "storefront.css"} <= named
    for name in sorted(named):
        assert asset_url(name).startswith(f"/static/{name}?v="), name


@pytest.mark.parametrize(
    ("media_type", "packed"),
    [
        ("text/html; charset=utf-8", True),
        ("application/json", True),
        ("text/csv; charset=utf-8", True),
        ("text/event-stream", False),
        ("application/pdf", False),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", False),
        ("image/png", False),
    ],
)
async def test_what_is_packed(media_type: str, packed: bool) -> None:
    async def answer(_request: Request) -> Response:
        return Response(b"a,b,c\n" * 400, media_type=media_type)

    transport = httpx.ASGITransport(app=Compression(Starlette(routes=[Route("/x", answer)])))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.get("/x", headers={"Accept-Encoding": "gzip"})
    assert (r.headers.get("content-encoding") == "gzip") is packed
    assert r.content == b"a,b,c\n" * 400
