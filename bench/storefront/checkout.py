"""Checkout → paid, closed loop, in its own process (aiohttp):

    python -m bench.storefront.checkout --app URL --wechatpay URL --plan plan.json
        --tokens tokens.json --seconds S --out result.json

Each of the shoppers (one bearer token each, signed in before the clock) goes round and round:
put a SKU in the cart, check out (delivery, an Idempotency-Key), start a WeChat Pay Native
payment, pay as a payer does at the WeChat Pay stand-in (scan the code_url, confirm: the
stand-in posts the genuinely signed callback to the app before it answers), then read the
payment until it says ``succeeded`` — the journey of ``bench/soak``'s checkout. The result: paid
orders a second, p50/p99 per step, errors per step and kind (the first few in full).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from bench.harness import percentile
from bench.soak.loadgen import ADDRESS

STEPS = ("cart", "checkout", "pay_start", "payer_scan", "pay", "paid")
TIMEOUT = 10.0


class Failed(Exception):
    """A journey stops at its first error (already counted)."""


class Checkout:
    def __init__(self, plan: dict[str, Any], app: str, wechatpay: str) -> None:
        self.plan, self.app, self.wechatpay = plan, app.rstrip("/"), wechatpay.rstrip("/")
        self.base = f"{self.app}/api/v1/mall/{plan['shop']}"
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, Counter[str]] = defaultdict(Counter)
        self.samples: list[str] = []
        self.paid = 0
        self.http: aiohttp.ClientSession

    async def call(
        self, step: str, method: str, url: str, expect: int = 200, **kw: Any
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        began = time.monotonic()
        try:
            async with self.http.request(method, url, allow_redirects=False, **kw) as r:
                body = await r.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            self._error(
                step, "timeout" if isinstance(exc, TimeoutError) else "connection", repr(exc)
            )
            raise Failed from exc
        if r.status != expect:
            kind = "5xx" if r.status >= 500 else f"{r.status}"
            self._error(step, kind, f"{method} {url} → {r.status}: {body[:300]!r}")
            raise Failed
        self.latencies[step].append(time.monotonic() - began)
        return r, body

    def _error(self, step: str, kind: str, detail: str) -> None:
        self.errors[step][kind] += 1
        if len(self.samples) < 10:
            self.samples.append(f"{step}: {detail}"[:400])

    async def journey(self, token: str, rng: random.Random) -> None:
        auth = {"Authorization": f"Bearer {token}"}
        sku = rng.choice(self.plan["skus"])
        await self.call(
            "cart",
            "POST",
            f"{self.base}/cart/items",
            json={"sku": sku, "quantity": 1},
            headers=auth,
        )
        _r, body = await self.call(
            "checkout",
            "POST",
            f"{self.base}/checkout",
            expect=201,
            json={"fulfilment": "delivery", "address": ADDRESS},
            headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
        )
        order = json.loads(body)["id"]
        _r, body = await self.call(
            "pay_start",
            "POST",
            f"{self.base}/payments",
            expect=201,
            json={"order": order, "method": "wechat_native"},
            headers=auth,
        )
        started = json.loads(body)
        code_url = quote(started["qr_content"], safe="")
        r, _b = await self.call(
            "payer_scan", "GET", f"{self.wechatpay}/_standin/scan?code_url={code_url}", expect=303
        )
        await self.call("pay", "POST", self.wechatpay + r.headers["Location"], data={})
        await self._until_paid(started["payment"], auth)
        self.paid += 1

    async def _until_paid(self, payment: str, auth: dict[str, str]) -> None:
        began = time.monotonic()
        url = f"{self.base}/payments/{payment}"
        while True:
            _r, body = await self.call("paid", "GET", url, headers=auth)
            if json.loads(body)["state"] == "succeeded":
                return
            if time.monotonic() - began > TIMEOUT:
                self._error("paid", "not_paid", f"{payment}: {body[:200]!r}")
                raise Failed
            await asyncio.sleep(0.02)

    async def shopper(self, token: str, seed: int, until: float) -> None:
        rng = random.Random(seed)
        while time.monotonic() < until:
            try:
                await self.journey(token, rng)
            except Failed:
                await asyncio.sleep(0.05)

    def result(self, elapsed: float) -> dict[str, Any]:
        steps = {
            step: {
                "ok": len(self.latencies[step]),
                "errors": dict(self.errors[step]),
                "p50_ms": percentile(self.latencies[step], 50) * 1000,
                "p99_ms": percentile(self.latencies[step], 99) * 1000,
            }
            for step in STEPS
        }
        return {
            "paid_orders": self.paid,
            "elapsed_s": elapsed,
            "orders_per_s": self.paid / elapsed if elapsed else 0.0,
            "steps": steps,
            "error_samples": self.samples,
        }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    plan = json.loads(Path(args.plan).read_text())
    tokens: list[str] = json.loads(Path(args.tokens).read_text())
    run = Checkout(plan, args.app, args.wechatpay)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=len(tokens) * 2), timeout=timeout
    ) as http:
        run.http = http
        began = time.monotonic()
        until = began + args.seconds
        await asyncio.gather(*(run.shopper(t, i, until) for i, t in enumerate(tokens)))
        elapsed = time.monotonic() - began
    return run.result(elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.storefront.checkout")
    parser.add_argument("--app", required=True)
    parser.add_argument("--wechatpay", required=True)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--tokens", required=True, help="a JSON list of shopper bearer tokens")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    args.out.write_text(json.dumps(asyncio.run(main_async(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
