"""Where checkout → paid spends its statements and its Python, step by step (issue #13 item 4).

Not a throughput benchmark (``bench_checkout`` and the HTTP benchmark measure orders/s): one
shopper places orders one after another through the API (httpx's ASGI transport, the app in
this process, background work off), and every step of every order is measured on its own:

- ``cart add``: ``POST /api/v1/mall/{slug}/cart/items`` (with an Idempotency-Key);
- ``checkout``: ``POST …/checkout`` for delivery (with an Idempotency-Key);
- ``order.created subscribers``: the outbox delivered to the subscribers of the new order;
- ``pay start``: ``POST …/payments`` with WeChat Pay Native — the real v3 adapter signs the
  request to the WeChat Pay stand-in and verifies its signed answer;
- ``callback``: the stand-in's genuine signed, encrypted TRANSACTION.SUCCESS posted to our
  callback route (the stand-in builds it outside the measured step);
- ``paid subscribers``: the outbox delivered to the subscribers of what payment published
  (order.paid, payment.succeeded, then attribution and commission in turn).

For each step: statements sent (BEGIN/SAVEPOINT/RELEASE not counted, as in tests/reads.py),
wall milliseconds and the CPU milliseconds of this process (``time.process_time``). The
stand-in runs in a child process, so on PostgreSQL the CPU figure is our Python (and the
driver); on SQLite it also holds SQLite's own work, which runs in this process.

    python -m bench.checkout_profile --backend postgres --orders 200
    python -m bench.checkout_profile --backend sqlite --profile checkout   # cProfile of a step

Each order has ``--lines`` lines (one SKU each).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import mean, median
from typing import Any
from urllib.parse import urlsplit

import httpx
from pyinstrument import Profiler
from sqlalchemy import event

from bench.bench_checkout import stocked_shop
from bench.harness import BenchContext
from loopmall.app import create_app
from loopmall.config import Settings
from loopmall.core.outbox import Dispatcher
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import sandbox_login
from loopmall.payments.accounts import configure_account
from loopmall.standins.keys import WeChatPayMerchantKeys, new_wechatpay_merchant

SLUG = "profile"
SKUS = 20
STEPS = (
    "cart add",
    "checkout",
    "order.created subscribers",
    "pay start",
    "callback",
    "paid subscribers",
)
ADDRESS = {"name": "张三", "phone": "13800000000", "address": "北京市朝阳区 1 号"}


@dataclass
class Samples:
    statements: list[int] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


@dataclass
class Meter:
    """Counts the statements of every engine of the app, and times each step."""

    state: AppState
    profile_step: str | None
    samples: dict[str, Samples] = field(default_factory=lambda: defaultdict(Samples))
    # Not async-aware: samples show what the thread runs; waiting shows as the loop's select.
    profiler: Profiler = field(
        default_factory=lambda: Profiler(interval=0.0005, async_mode="disabled")
    )
    last: dict[str, list[str]] = field(default_factory=dict)  # the last order's statements
    _seen_now: list[str] = field(default_factory=list)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            self._seen_now.append(statement)

    @contextmanager
    def listening(self) -> Iterator[None]:
        for engine in self.state.engines:
            event.listen(engine.sync_engine, "after_cursor_execute", self._seen)
        try:
            yield
        finally:
            for engine in self.state.engines:
                event.remove(engine.sync_engine, "after_cursor_execute", self._seen)

    async def step(self, name: str, work: Callable[[], Awaitable[Any]]) -> Any:
        profiling = name == self.profile_step
        self._seen_now = []
        cpu, wall = time.process_time(), time.perf_counter()
        if profiling:
            self.profiler.start()
        try:
            return await work()
        finally:
            if profiling:
                self.profiler.stop()
            sample = self.samples[name]
            sample.wall_ms.append((time.perf_counter() - wall) * 1000)
            sample.cpu_ms.append((time.process_time() - cpu) * 1000)
            sample.statements.append(len(self._seen_now))
            self.last[name], self._seen_now = self._seen_now, []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def wechatpay_standin() -> AsyncIterator[str]:
    """The WeChat Pay stand-in in a child process (its signing is not our CPU); its URL."""
    wx, ali = _free_port(), _free_port()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loopmall.standins",
            "--wechatpay-port",
            str(wx),
            "--alipay-port",
            str(ali),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{wx}"
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(200):
                try:
                    if (await client.get("/_standin/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        yield url
    finally:
        child.terminate()
        child.wait(timeout=10)


async def register(standin_url: str, keys: WeChatPayMerchantKeys) -> None:
    c = keys.config
    async with httpx.AsyncClient(base_url=standin_url) as client:
        r = await client.post(
            "/_standin/merchants",
            json={
                "mchid": c.mchid,
                "appid": c.appid,
                "apiv3_key": c.apiv3_key,
                "merchant_serial_no": c.merchant_serial_no,
                "platform_public_key_id": c.platform_public_key_id,
                "merchant_public_key_pem": keys.merchant_public_key_pem,
                "platform_private_key_pem": keys.platform_private_key_pem,
            },
        )
        r.raise_for_status()


async def setup(state: AppState, keys: WeChatPayMerchantKeys) -> tuple[list[str], str]:
    """A merchant with SKUS SKUs in plenty, its WeChat Pay account, one shopper's token."""
    async with UnitOfWork(state.write_factory) as uow:
        s = uow.session
        tenant, sku_ids = await stocked_shop(s, slug=SLUG, name="Profile", skus=SKUS)
        await configure_account(s, tenant, "wechatpay", asdict(keys.config))
        _customer, token = await sandbox_login(s, tenant, name="shopper")
        await uow.commit()
    return sku_ids, token


@dataclass
class Loop:
    meter: Meter
    client: httpx.AsyncClient
    standin: httpx.AsyncClient
    dispatcher: Dispatcher
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _keyed(self) -> dict[str, str]:
        return {**self.auth, "Idempotency-Key": uuid.uuid4().hex}

    async def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        r = await self.client.post(path, json=body, headers=headers)
        r.raise_for_status()
        return r.json()

    async def order(self, skus: list[str]) -> None:
        base = f"/api/v1/mall/{SLUG}"
        step = self.meter.step
        for sku in skus:
            await step(
                "cart add",
                lambda sku=sku: self._post(
                    f"{base}/cart/items", {"sku": sku, "quantity": 1}, self._keyed()
                ),
            )
        body = {"fulfilment": "delivery", "address": ADDRESS}
        order = await step("checkout", lambda: self._post(f"{base}/checkout", body, self._keyed()))
        await step("order.created subscribers", self.dispatcher.drain)
        pay = {"order": order["id"], "method": "wechat_native"}
        started = await step("pay start", lambda: self._post(f"{base}/payments", pay, self.auth))
        shown = await self.client.get(f"{base}/payments/{started['payment']}", headers=self.auth)
        built = await self.standin.post(
            f"/_standin/trades/{shown.json()['out_trade_no']}/pay", json={"deliver": False}
        )
        built.raise_for_status()
        callback = built.json()["callback"]

        async def deliver() -> None:
            r = await self.client.post(
                urlsplit(callback["url"]).path,
                content=callback["body"].encode(),
                headers=callback["headers"],
            )
            assert r.status_code == 204, r.text

        await step("callback", deliver)
        await step("paid subscribers", self.dispatcher.drain)


async def run(backend: str, orders: int, lines: int, profile_step: str | None) -> Meter:
    async with (
        wechatpay_standin() as standin_url,
        BenchContext(False, [backend]).fresh_state(backend) as seed,
    ):
        settings = Settings(
            database_url=seed.settings.effective_database_url,
            data_dir=Path(seed.settings.data_dir),
            auto_migrate=False,
            run_background=False,
            secret_key="profile",
            wechatpay_base_url=standin_url,
        )
        keys = new_wechatpay_merchant("1900000109", "wx" + uuid.uuid4().hex[:16], slot="profile")
        await register(standin_url, keys)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            state: AppState = app.state.loopmall
            skus, token = await setup(state, keys)
            meter = Meter(state, profile_step)
            async with (
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://profile"
                ) as client,
                httpx.AsyncClient(base_url=standin_url) as standin,
            ):
                loop = Loop(meter, client, standin, Dispatcher(state.write_factory), token)
                await loop.order(skus[:lines])  # warm-up: imports, caches, first statements
                meter.samples.clear()
                with meter.listening():
                    for n in range(orders):
                        picked = [skus[(n + i) % len(skus)] for i in range(lines)]
                        await loop.order(picked)
    return meter


def report(meter: Meter, backend: str, orders: int, lines: int, show_statements: bool) -> None:
    print(f"\n{backend}: {orders} orders of {lines} line(s), one shopper, in-process ASGI")
    print(f"{'step':28} {'statements':>10} {'wall ms':>9} {'cpu ms':>8} {'cpu ms p50':>10}")
    for name in STEPS:
        s = meter.samples[name]
        per_order = len(s.statements) // max(orders, 1)  # cart adds: one per line
        print(
            f"{name:28} {median(s.statements) * per_order:>10.0f} "
            f"{mean(s.wall_ms) * per_order:>9.2f} {mean(s.cpu_ms) * per_order:>8.2f} "
            f"{median(s.cpu_ms) * per_order:>10.2f}"
        )
    total_cpu = sum(sum(meter.samples[n].cpu_ms) for n in STEPS) / max(orders, 1)
    print(f"{'whole order (cpu ms, mean)':28} {'':>10} {'':>9} {total_cpu:>8.2f}")
    if show_statements:
        for name in STEPS:
            print(f"\n{name}:")
            for statement in meter.last.get(name, []):
                print("  " + " ".join(statement.split())[:160])
    if meter.profile_step:
        print(f"\npyinstrument of {meter.profile_step!r}, every order together:")
        print(meter.profiler.output_text(unicode=True, show_all=False, short_mode=False))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.checkout_profile")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--lines", type=int, default=1)
    parser.add_argument("--profile", choices=STEPS, default=None, help="pyinstrument this step")
    parser.add_argument("--statements", action="store_true", help="list the last order's")
    args = parser.parse_args()
    os.environ.setdefault("LOOPMALL_LOG_LEVEL", "WARNING")
    meter = asyncio.run(run(args.backend, args.orders, args.lines, args.profile))
    report(meter, args.backend, args.orders, args.lines, args.statements)


if __name__ == "__main__":
    main()
