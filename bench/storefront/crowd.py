"""What the crowd opens, and one server measured page by page.

Each page is a wrk run of a few seconds on the same server, right after that server's bare
``/healthz`` run, so every page has its ratio to the same server's bare speed in the same run.
Pages that rotate (category lists, product pages, QR codes, shoppers' cookies) give wrk a list
of requests to send in turn (``crowd.lua``). A route that answers 404 on the first try (not in
this code: the consumer API reads being added, a baseline without them) is skipped with the
reason; any 5xx during a run fails that run.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.flashsale.wrk import lay_out
from bench.storefront import wrk
from bench.storefront.server import SECRET, Server, run_child
from bench.storefront.wrk import Request

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
ROTATION = 200  # requests in a rotating page's list: many products, cookies, codes
QUIET_MS = 50.0
QUIET_TIMEOUT = 60.0


@dataclass(frozen=True)
class Target:
    """An issue #13 target: at least ``ratio`` × ``/healthz`` req/s, p99 under ``p99_ms``."""

    ratio: float | None
    p99_ms: float

    def met(self, ratio: float, p99_ms: float) -> bool:
        return (self.ratio is None or ratio >= self.ratio) and p99_ms < self.p99_ms

    def label(self) -> str:
        ratio = f"≥ {self.ratio:g}×, " if self.ratio is not None else ""
        return f"{ratio}p99 < {self.p99_ms:g} ms"


PRODUCT = Target(0.6, 50)
LIST = Target(0.35, 50)
ANY = Target(None, 50)
UNDER_GATE = Target(None, 100)


@dataclass
class Page:
    name: str
    requests: list[Request]
    target: Target | None = None
    ok_statuses: frozenset[int] = frozenset({200})


@dataclass
class Shoppers:
    """Signed-in shoppers of the mall (sandbox login): bearer tokens, which are also the mall
    cookie's value, and each cookie session's CSRF token."""

    cookie: str
    tokens: list[str]
    csrf: list[str]
    shares: list[str] = field(default_factory=list)

    def cookie_headers(self, i: int) -> dict[str, str]:
        return {"Cookie": f"{self.cookie}={self.tokens[i % len(self.tokens)]}"}


def _rotate(items: list[str], n: int = ROTATION) -> list[str]:
    return [items[i % len(items)] for i in range(max(n, len(items)))] if items else []


async def sign_in(base: str, plan: dict[str, Any], n: int) -> Shoppers:
    """``n`` sandbox shoppers, their CSRF tokens (from a page's meta tag), and share links of
    the first products by the first shoppers (not measured)."""
    shop = plan["shop"]
    tokens, csrf, shares = [], [], []
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for i in range(n):
            r = await http.post(f"/api/v1/mall/{shop}/auth/sandbox", json={"name": f"逛街的人 {i}"})
            r.raise_for_status()
            tokens.append(r.json()["access_token"])
            page = await http.get(f"/m/{shop}/", cookies={plan["shopper_cookie"]: tokens[-1]})
            found = CSRF.search(page.text)
            if found is None:
                raise RuntimeError("the mall home shows a signed-in shopper no CSRF token")
            csrf.append(found.group(1))
        for i, product in enumerate(plan["products"][:20]):
            r = await http.post(
                f"/api/v1/mall/{shop}/shares",
                json={"target_kind": "product", "target": product},
                headers={"Authorization": f"Bearer {tokens[i % n]}"},
            )
            r.raise_for_status()
            shares.append(r.json()["token"])
    return Shoppers(plan["shopper_cookie"], tokens, csrf, shares)


def pages(plan: dict[str, Any], shoppers: Shoppers) -> list[Page]:
    """The pages and reads of the crowd, in the order they are measured."""
    m, api = f"/m/{plan['shop']}", f"/api/v1/mall/{plan['shop']}"
    products, categories = _rotate(plan["products"]), _rotate(plan["categories"])
    sale = plan["sales"][0]
    sale_page = sale["path"].replace("/api/v1/mall/", "/m/").removesuffix("/buy")

    def signed_in(paths: list[str]) -> list[Request]:
        return [Request(p, headers=shoppers.cookie_headers(i)) for i, p in enumerate(paths)]

    def bearer(paths: list[str]) -> list[Request]:
        n = len(shoppers.tokens)
        return [
            Request(p, headers={"Authorization": f"Bearer {shoppers.tokens[i % n]}"})
            for i, p in enumerate(paths)
        ]

    carts = [
        Request(
            f"{api}/cart/items",
            method="POST",
            headers={
                **shoppers.cookie_headers(i),
                "X-CSRF-Token": shoppers.csrf[i % len(shoppers.csrf)],
                "Content-Type": "application/json",
            },
            body=json.dumps({"sku": sku, "quantity": 1}),
        )
        for i, sku in enumerate(_rotate(plan["skus"], 4 * ROTATION))
    ]
    redirect = frozenset({302, 303})
    return [
        Page("healthz", [Request("/healthz")]),
        Page("home", [Request(f"{m}/")], LIST),
        Page("categories", [Request(f"{m}/categories")], LIST),
        Page("category list", [Request(f"{m}/c/{c}") for c in categories], LIST),
        Page("product page", [Request(f"{m}/p/{p}") for p in products], PRODUCT),
        Page("home, signed in", signed_in([f"{m}/"] * ROTATION), LIST),
        Page("category list, signed in", signed_in([f"{m}/c/{c}" for c in categories]), LIST),
        Page("product page, signed in", signed_in([f"{m}/p/{p}" for p in products]), PRODUCT),
        Page("cart page, signed in", signed_in([f"{m}/cart"] * ROTATION), ANY),
        Page("flash sale page", [Request(sale_page)], ANY),
        Page(
            "share landing → 303",
            [Request(f"{m}/s/{t}") for t in _rotate(shoppers.shares)],
            ANY,
            redirect,
        ),
        Page(
            "store QR landing → 302",
            [Request(f"/q/{c}") for c in _rotate(plan["qr_codes"])],
            ANY,
            redirect,
        ),
        Page("api: product list", [Request(f"{api}/products")], LIST),
        Page("api: product", [Request(f"{api}/products/{p}") for p in products], PRODUCT),
        Page("api: categories", [Request(f"{api}/categories")], LIST),
        Page("api: cart, signed in", bearer([f"{api}/cart"] * ROTATION), ANY),
        Page("add to cart (cookie + CSRF)", carts, ANY),
        # The bare speed once more: how much the machine's share moved during the run.
        Page("healthz, again", [Request("/healthz")]),
    ]


async def probe(base: str, page: Page) -> str | None:
    """Why ``page`` is skipped (its first request answers 404 or 405), or None."""
    first = page.requests[0]
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        r = await http.request(
            first.method, first.path, headers=dict(first.headers), content=first.body or None
        )
    if r.status_code in (404, 405):
        return f"{first.method} {first.path.split('?')[0]} → {r.status_code}: not in this code"
    return None


async def quiet(base: str, timeout: float = QUIET_TIMEOUT) -> float:
    """Wait until the server has caught up (two ``/healthz`` in a row answered within
    ``QUIET_MS``): when wrk stops, the server still owes answers to the requests it had taken,
    and they would be measured with the next page. The seconds waited."""
    loop = asyncio.get_running_loop()
    began, fast = loop.time(), 0
    async with httpx.AsyncClient(base_url=base, timeout=timeout) as http:
        while fast < 2 and loop.time() - began < timeout:
            sent = loop.time()
            await http.get("/healthz")
            fast = fast + 1 if (loop.time() - sent) * 1000 < QUIET_MS else 0
            await asyncio.sleep(0.05)
    return loop.time() - began


def judged(page: Page, got: dict[str, Any], healthz_rps: float) -> dict[str, Any]:
    """The run's figures with its ratio to ``/healthz``, its unexpected answers, the target."""
    ratio = got["req_per_s"] / healthz_rps if healthz_rps else 0.0
    unexpected = sum(n for s, n in got["statuses"].items() if int(s) not in page.ok_statuses)
    target = page.target
    return {
        **got,
        "ratio": ratio,
        "unexpected": unexpected,
        "failed": got["5xx"] > 0,
        "target": target.label() if target else "",
        "target_met": target.met(ratio, got["p99_ms"]) if target else None,
    }


def rebased(results: dict[str, Any], targets: dict[str, Target | None]) -> float:
    """Every page's ratio (and target met) against the faster of the server's two ``/healthz``
    runs, the first and the last: on a shared machine one run can catch a busy moment (the
    first read 264 req/s and the last 774 on the same server), and the faster one is the
    nearer to the server's bare speed, so the ratios are not flattered. The bare req/s."""
    bare = max(
        results.get(name, {}).get("req_per_s", 0.0) for name in ("healthz", "healthz, again")
    )
    for name, r in results.items():
        if not isinstance(r, dict) or "req_per_s" not in r:
            continue
        r["ratio"] = r["req_per_s"] / bare if bare else 0.0
        target = targets.get(name)
        r["target_met"] = target.met(r["ratio"], r["p99_ms"]) if target else None
    return bare


async def under_gate(
    server: Server,
    plan: dict[str, Any],
    sale: dict[str, Any],
    work: Path,
    *,
    seconds: float,
    connections: int,
    min_answers: int,
    longest: float,
) -> dict[str, Any]:
    """The product page measured while another wrk sends the sale's attempts (every holder
    once, 10 % double-clicks, 20 % retries: the flash-sale replay's plan) to the same server."""
    import random

    rng = random.Random(7)
    holders = sale["customers"]
    gate_plan = {
        "secret": SECRET,
        "sale_id": sale["sale_id"],
        "customers": holders,
        "double_clickers": [c for c in holders if rng.random() < 0.10],
        "retriers": [c for c in holders if rng.random() < 0.20],
    }
    bodies = lay_out(gate_plan, connections=connections, retry_wave=False)
    stop = asyncio.Event()
    gate = asyncio.create_task(
        wrk.gate(server.base, sale["path"], bodies, work, connections=connections, stop=stop)
    )
    await asyncio.sleep(1.0)  # the gate is busy before the page is measured
    products = [Request(f"/m/{plan['shop']}/p/{p}") for p in _rotate(plan["products"])]
    try:
        while True:
            page = await wrk.crowd(
                server.base,
                products,
                work,
                name="product-under-gate",
                seconds=seconds,
                connections=connections,
            )
            page["seconds"] = seconds
            # As for every page: too few answers to measure, and the run is made longer.
            if page["requests"] >= min_answers * connections or seconds >= longest:
                break
            seconds = min(longest, seconds * 4)
    finally:
        stop.set()
    return {"page": page, "gate": await gate}


async def checkout(
    server: Server, plan_file: Path, tokens: list[str], work: Path, *, seconds: float
) -> dict[str, Any]:
    """Checkout → paid by ``len(tokens)`` shoppers for ``seconds`` (``checkout.py``, its own
    process)."""
    (work / "checkout-tokens.json").write_text(json.dumps(tokens))
    out = work / "checkout.json"
    cmd = [sys.executable, "-m", "bench.storefront.checkout", "--app", server.base]
    cmd += ["--wechatpay", server.wechatpay, "--plan", str(plan_file)]
    cmd += ["--tokens", str(work / "checkout-tokens.json"), "--seconds", str(seconds)]
    await run_child([*cmd, "--out", str(out)], dict(os.environ), work / "checkout.log")
    result: dict[str, Any] = json.loads(out.read_text())
    return result
