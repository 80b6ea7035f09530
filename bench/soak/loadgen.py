"""The soak's load generator, in its own process: mixed traffic at a fixed rate (open loop).

    python -m bench.soak.loadgen --plan plan.json --out result.json --rate 12 --seconds 60

Journeys arrive on a fixed schedule (``rate`` a second, spaced evenly, their kinds drawn from
``MIX`` with a fixed seed) whatever the answers' latency: a slow server shows as latency and
as journeys in flight, never as a lower rate. Kinds:

- ``browse``: one page (mall home, categories, a category, a product) of one of three malls,
  a share of them with a shopper's cookie;
- ``scan``: ``GET /q/{code}`` of one of the fashion chain's QR codes (a 302 to its page);
- ``checkout``: a logged-in shopper puts a SKU in the cart, checks out (delivery, an
  Idempotency-Key), starts a WeChat Pay Native payment, and pays as a payer does at the
  WeChat Pay stand-in (scan the code_url, confirm): the stand-in posts the genuinely signed
  callback to the app before it answers; then the payment must read ``succeeded``;
- ``chat``: a shopper opens the mall chat's WebSocket, writes to their guide, and waits for the
  guide's reply; the guides are sockets that stay open for the whole run and answer every
  customer message over their own socket.

Every request is timed under its step (``browse``, ``scan``, ``cart``, ``checkout``,
``pay_start``, ``payer_scan``, ``pay``, ``paid``, ``chat``) in windows of ``--window`` seconds;
an error is classed as ``5xx``, ``timeout``, ``connection``, ``unexpected_4xx`` or
``unexpected`` (another status, or an answer that is wrong: a payment not paid, a reply not
heard). ``result.json``: the windows, the totals, the first errors in full, and how far the
schedule ever slipped (the generator's own health).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

MIX = {"browse": 0.55, "scan": 0.15, "checkout": 0.15, "chat": 0.15}
STEPS = ("browse", "scan", "cart", "checkout", "pay_start", "payer_scan", "pay", "paid", "chat")
TIMEOUT = 10.0
SETUP_TIMEOUT = aiohttp.ClientTimeout(total=60)
CHECKOUT_SHOPPERS = 64
CHAT_SHOPPERS = 48
ADDRESS = {"name": "张三", "phone": "13800000000", "address": "上海市静安区南京西路 1266 号"}
SEQ = re.compile(r"#(\d+)")


class Failed(Exception):
    """A journey stops at its first error (already recorded)."""


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))]


class Stats:
    def __init__(self, window: float) -> None:
        self.window = window
        self.start = 0.0
        self.lat: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.err: dict[int, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        self.samples: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.max_slip = 0.0
        self.journeys: Counter[str] = Counter()

    def _w(self, began: float) -> int:
        return max(0, int((began - self.start) // self.window))

    def ok(self, step: str, began: float) -> None:
        self.lat[self._w(began)][step].append(time.monotonic() - began)

    def error(self, step: str, began: float, kind: str, detail: str) -> None:
        self.err[self._w(began)][step][kind] += 1
        if len(self.samples) < 40:
            self.samples.append(
                {"t": round(began - self.start, 2), "step": step, "kind": kind, "detail": detail}
            )

    def totals(self) -> dict[str, Any]:
        n = sum(len(v) for w in self.lat.values() for v in w.values())
        errors: Counter[str] = Counter()
        for w in self.err.values():
            for c in w.values():
                errors.update(c)
        return {"ok": n, "errors": dict(errors), "journeys": dict(self.journeys)}

    def result(self, seconds: float) -> dict[str, Any]:
        windows = []
        last = max([*self.lat, *self.err, int(seconds // self.window) - 1, 0])
        for i in range(last + 1):
            steps: dict[str, Any] = {}
            for step in STEPS:
                lat = self.lat.get(i, {}).get(step, [])
                errors = dict(self.err.get(i, {}).get(step, {}))
                if lat or errors:
                    steps[step] = {
                        "ok": len(lat),
                        "errors": errors,
                        "p50_ms": _pct(lat, 50) * 1000,
                        "p99_ms": _pct(lat, 99) * 1000,
                    }
            windows.append({"t": i * self.window, "steps": steps})
        overall: dict[str, Any] = {}
        for step in STEPS:
            lat = [x for w in self.lat.values() for x in w.get(step, [])]
            seen: Counter[str] = Counter()
            for w in self.err.values():
                seen.update(w.get(step, {}))
            if lat or seen:
                overall[step] = {
                    "ok": len(lat),
                    "errors": dict(seen),
                    "p50_ms": _pct(lat, 50) * 1000,
                    "p99_ms": _pct(lat, 99) * 1000,
                }
        return {
            "windows": windows,
            "steps": overall,
            "totals": self.totals(),
            "error_samples": self.samples,
            "max_in_flight": self.max_in_flight,
            "max_schedule_slip_ms": self.max_slip * 1000,
        }


class Traffic:
    def __init__(self, plan: dict[str, Any], args: argparse.Namespace) -> None:
        self.plan = plan
        self.app = args.app.rstrip("/")
        self.ws_base = "ws" + self.app.removeprefix("http")
        self.wechatpay = args.wechatpay.rstrip("/")
        self.shop = plan["shop"]
        self.stats = Stats(args.window)
        self.rng = random.Random(11)
        self.http: aiohttp.ClientSession
        self.tokens: list[str] = []
        self.checkout_pool: asyncio.Queue[str] = asyncio.Queue()
        self.chat_pool: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.seq = 0
        self.stopping = False

    # -- one request ---------------------------------------------------------------------

    async def call(
        self,
        step: str,
        method: str,
        url: str,
        *,
        expect: tuple[int, ...] = (200,),
        **kw: Any,
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        began = time.monotonic()
        try:
            async with self.http.request(method, url, allow_redirects=False, **kw) as r:
                body = await r.read()
        except TimeoutError as exc:
            self.stats.error(step, began, "timeout", f"{method} {url}: {exc!r}")
            raise Failed from exc
        except aiohttp.ClientError as exc:
            self.stats.error(step, began, "connection", f"{method} {url}: {exc!r}")
            raise Failed from exc
        if r.status not in expect:
            kind = (
                "5xx" if r.status >= 500 else "unexpected_4xx" if r.status >= 400 else "unexpected"
            )
            detail = f"{method} {url} → {r.status}: {body[:300].decode('utf-8', 'replace')}"
            self.stats.error(step, began, kind, detail)
            raise Failed
        self.stats.ok(step, began)
        return r, body

    # -- setup (before the clock) ------------------------------------------------------------

    async def _setup_post(self, url: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """A setup request (not measured): patient, retried when the busy machine is slow."""
        for attempt in range(3):
            try:
                async with self.http.post(url, json=body, timeout=SETUP_TIMEOUT, **kw) as r:
                    if r.status in (200, 201):
                        found: dict[str, Any] = await r.json()
                        return found
                    raise RuntimeError(f"setup: POST {url} → {r.status} {await r.text()}")
            except (TimeoutError, aiohttp.ClientConnectionError):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def setup(self) -> None:
        base = f"{self.app}/api/v1/mall/{self.shop}"
        guides = self.plan["guides"]
        for i in range(CHECKOUT_SHOPPERS + CHAT_SHOPPERS):
            login = await self._setup_post(f"{base}/auth/sandbox", {"name": f"逛街的人 {i}"})
            token = login["access_token"]
            self.tokens.append(token)
            if i < CHECKOUT_SHOPPERS:
                self.checkout_pool.put_nowait(token)
                continue
            opened = await self._setup_post(
                f"{base}/chat",
                {"guide": guides[i % len(guides)]["id"]},
                headers={"Authorization": f"Bearer {token}"},
            )
            self.chat_pool.put_nowait((token, opened["id"]))

    # -- the journeys ----------------------------------------------------------------------

    def _cookie(self) -> dict[str, str]:
        return {"Cookie": f"{self.plan['shopper_cookie']}={self.rng.choice(self.tokens)}"}

    async def browse(self) -> None:
        rng = self.rng
        slug = rng.choices(list(self.plan["browse"]), weights=(70, 15, 15))[0]
        found = self.plan["browse"][slug]
        pick = rng.random()
        if pick < 0.2:
            path = f"/m/{slug}/"
        elif pick < 0.3:
            path = f"/m/{slug}/categories"
        elif pick < 0.5 and found["categories"]:
            path = f"/m/{slug}/c/{rng.choice(found['categories'])}"
        else:
            path = f"/m/{slug}/p/{rng.choice(found['products'])}"
        headers = self._cookie() if slug == self.shop and rng.random() < 0.3 else {}
        await self.call("browse", "GET", self.app + path, headers=headers)

    async def scan(self) -> None:
        code = self.rng.choice(self.plan["qr_codes"])
        headers = self._cookie() if self.rng.random() < 0.3 else {}
        await self.call("scan", "GET", f"{self.app}/q/{code}", expect=(302,), headers=headers)

    async def checkout(self) -> None:
        try:
            token = self.checkout_pool.get_nowait()
        except asyncio.QueueEmpty:
            self.stats.error("cart", time.monotonic(), "unexpected", "no free shopper")
            return
        try:
            await self._checkout(token)
        finally:
            self.checkout_pool.put_nowait(token)

    async def _checkout(self, token: str) -> None:
        auth = {"Authorization": f"Bearer {token}"}
        base = f"{self.app}/api/v1/mall/{self.shop}"
        sku = self.rng.choice(self.plan["skus"])
        await self.call(
            "cart", "POST", f"{base}/cart/items", json={"sku": sku, "quantity": 1}, headers=auth
        )
        _r, body = await self.call(
            "checkout",
            "POST",
            f"{base}/checkout",
            expect=(201,),
            json={"fulfilment": "delivery", "address": ADDRESS},
            headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
        )
        order = json.loads(body)["id"]
        _r, body = await self.call(
            "pay_start",
            "POST",
            f"{base}/payments",
            expect=(201,),
            json={"order": order, "method": "wechat_native"},
            headers=auth,
        )
        started = json.loads(body)
        payment, code_url = started["payment"], started["qr_content"]
        r, _body = await self.call(
            "payer_scan",
            "GET",
            f"{self.wechatpay}/_standin/scan?code_url={quote(code_url, safe='')}",
            expect=(303,),
        )
        # The payer confirms; the stand-in posts the signed callback to us before it answers.
        await self.call("pay", "POST", self.wechatpay + r.headers["Location"], data={})
        began = time.monotonic()
        while True:
            _r, body = await self.call("paid", "GET", f"{base}/payments/{payment}", headers=auth)
            if json.loads(body)["state"] == "succeeded":
                return
            if time.monotonic() - began > TIMEOUT:
                self.stats.error("paid", began, "unexpected", f"{payment} not paid: {body[:200]!r}")
                raise Failed
            await asyncio.sleep(0.2)

    async def chat(self) -> None:
        try:
            token, conversation = self.chat_pool.get_nowait()
        except asyncio.QueueEmpty:
            self.stats.error("chat", time.monotonic(), "unexpected", "no free chat shopper")
            return
        try:
            await self._chat(token, conversation)
        finally:
            self.chat_pool.put_nowait((token, conversation))

    async def _chat(self, token: str, conversation: str) -> None:
        self.seq += 1
        n = self.seq
        url = f"{self.ws_base}/m/{self.shop}/chat/ws"
        began = time.monotonic()
        try:
            async with asyncio.timeout(TIMEOUT):
                async with self.http.ws_connect(
                    url, headers={"Cookie": f"{self.plan['shopper_cookie']}={token}"}
                ) as ws:
                    await ws.send_json({"type": "ping"})
                    while (await ws.receive_json()).get("type") != "pong":
                        pass
                    began = time.monotonic()
                    await ws.send_json(
                        {
                            "type": "text",
                            "conversation": conversation,
                            "body": f"请问有 M 码吗？#{n}",
                        }
                    )
                    while True:
                        frame = await ws.receive_json()
                        if frame.get("type") == "error":
                            self.stats.error("chat", began, "unexpected", json.dumps(frame)[:300])
                            raise Failed
                        message = frame.get("message") or {}
                        if message.get("sender") == "guide" and f"#{n}" in message.get("body", ""):
                            break
        except TimeoutError as exc:
            self.stats.error("chat", began, "timeout", f"no reply to #{n} in {TIMEOUT:.0f} s")
            raise Failed from exc
        except (aiohttp.ClientError, TypeError, ValueError) as exc:
            status = exc.status if isinstance(exc, aiohttp.WSServerHandshakeError) else 0
            kind = "5xx" if status >= 500 else "unexpected_4xx" if status >= 400 else "connection"
            self.stats.error("chat", began, kind, f"#{n}: {exc!r}"[:300])
            raise Failed from exc
        self.stats.ok("chat", began)

    async def guide(self, guide: dict[str, str]) -> None:
        """One guide's socket for the whole run: answers each customer message."""
        while not self.stopping:
            began = time.monotonic()
            try:
                async with self.http.ws_connect(
                    f"{self.ws_base}/guide/ws", headers={"Cookie": guide["cookie"]}, heartbeat=20
                ) as ws:
                    async for msg in ws:
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            break
                        frame = json.loads(msg.data)
                        message = frame.get("message") or {}
                        if frame.get("type") == "error":
                            self.stats.error("chat", time.monotonic(), "unexpected", msg.data[:300])
                        if frame.get("type") != "message" or message.get("sender") != "customer":
                            continue
                        found = SEQ.search(message.get("body", ""))
                        tag = f" #{found.group(1)}" if found else ""
                        await ws.send_json(
                            {
                                "type": "text",
                                "conversation": message["conversation"],
                                "body": f"有的，马上为您留货{tag}",
                            }
                        )
            except (aiohttp.ClientError, TimeoutError) as exc:
                if not self.stopping:
                    self.stats.error("chat", began, "connection", f"guide socket: {exc!r}"[:300])
            if not self.stopping:
                self.stats.error("chat", began, "connection", f"guide {guide['id']} socket closed")
                await asyncio.sleep(1)

    # -- the schedule ----------------------------------------------------------------------

    async def journey(self, kind: str) -> None:
        self.stats.journeys[kind] += 1
        self.stats.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        try:
            await getattr(self, kind)()
        except Failed:
            pass
        except Exception as exc:  # a generator bug must show, not end the run
            self.stats.error(kind, time.monotonic(), "unexpected", f"generator: {exc!r}"[:300])
        finally:
            self.stats.in_flight -= 1

    async def run(self, rate: float, seconds: float, status: Path) -> None:
        kinds, weights = list(MIX), list(MIX.values())
        pending: set[asyncio.Task[None]] = set()
        guides = [asyncio.create_task(self.guide(g)) for g in self.plan["guides"]]
        await asyncio.sleep(1)  # the guides' sockets are open before the first customer writes
        start = self.stats.start = time.monotonic()
        status.with_suffix(".tmp").write_text(json.dumps({"start": start}))
        status.with_suffix(".tmp").rename(status)
        k = 0
        next_status = start + self.stats.window
        while True:
            at = start + k / rate
            if at - start >= seconds:
                break
            now = time.monotonic()
            if at > now:
                await asyncio.sleep(at - now)
            else:
                self.stats.max_slip = max(self.stats.max_slip, now - at)
            task = asyncio.create_task(self.journey(self.rng.choices(kinds, weights)[0]))
            pending.add(task)
            task.add_done_callback(pending.discard)
            k += 1
            if time.monotonic() >= next_status:
                next_status += self.stats.window
                live = {"start": start, "in_flight": self.stats.in_flight, **self.stats.totals()}
                status.with_suffix(".tmp").write_text(json.dumps(live))
                status.with_suffix(".tmp").rename(status)
        if pending:
            await asyncio.wait(pending, timeout=TIMEOUT * 3)
        self.stopping = True
        for g in guides:
            g.cancel()
        for g in guides:
            with contextlib.suppress(asyncio.CancelledError):
                await g


async def main_async(args: argparse.Namespace) -> None:
    plan = json.loads(Path(args.plan).read_text())
    traffic = Traffic(plan, args)
    connector = aiohttp.TCPConnector(limit=200)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        traffic.http = http
        await traffic.setup()
        await traffic.run(args.rate, args.seconds, Path(args.status))
    result = traffic.stats.result(args.seconds)
    result.update(rate=args.rate, seconds=args.seconds, start=traffic.stats.start, mix=MIX)
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak.loadgen")
    parser.add_argument("--plan", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--status", required=True, help="live totals, rewritten each window")
    parser.add_argument("--app", required=True, help="the app's base URL")
    parser.add_argument("--wechatpay", required=True, help="the WeChat Pay stand-in's base URL")
    parser.add_argument("--rate", type=float, required=True, help="journeys a second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--window", type=float, default=5.0)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
