"""The Xiaomi sale replayed through the real HTTP API against real server processes.

One replay: a fresh database with N reservation holders and S units (``world``); the app
served by ``loopmall serve`` (uvicorn with uvloop + httptools, or Granian; 1 or 2 app
processes); on PostgreSQL + Redis one or two ``loopmall flashsale-consumer`` processes
turning the stream into orders, on the embedded default (SQLite, no Redis) the database
gate with its in-process order maker. Then, with the load generator in its own process:

1. the hello-JSON baseline on the same server (``GET /hello``, same connections);
2. the sale: every holder tries once, 10 % double-click, 20 % retry after "sold out";
3. all orders made; a sample paid through the orders contract (as a payment callback
   does) and a sample lapsed (their units go back on sale);
4. a retry wave of the holders still without a unit: the lapsed units are resold, once;
5. the figures, checked against the database (and Redis: ``reconcile``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from bench.flashsale import wrk
from bench.flashsale.aftermath import figures_of, pay_and_lapse
from bench.flashsale.world import World, build_world
from bench.serving import BIN, Processes, fresh_database, wait_http
from bench.serving import free_port as _free_port
from bench.serving import loopmall_command as _loopmall
from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale.gate_redis import SaleKeys
from loopmall.flashsale.models import FlashTicket

REDIS_URL = os.environ.get("LOOPMALL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
SECRET = "bench-flashsale-secret"
HELLO_SECONDS = 10


@dataclass(frozen=True)
class Setup:
    backend: str  # sqlite (embedded default: database gate) | postgres (+ Redis gate)
    holders: int
    stock: int
    server: str = "uvicorn"
    apps: int = 1
    consumers: int = 1
    concurrency: int = 256
    double_share: float = 0.10
    retry_share: float = 0.20
    paid: int = 1000
    lapsed: int = 1000
    loadgen: str = "wrk"  # wrk (C, with a Lua script) | aiohttp (loadgen.py)
    consumer_nice: int = 10  # the consumers' CPU priority below the gate's (0 = the same)
    profile: Path | None = None  # py-spy the server during the sale into this file
    # The real crowd (issue #21): rate limits at their defaults, shoppers behind many
    # addresses, non-holders, forged, expired and replayed tokens (see wrk.lay_out).
    crowd: bool = False
    stranger_share: float = 0.05  # shoppers without a reservation, per holder
    forged_share: float = 0.03
    expired_share: float = 0.02
    replayed_share: float = 0.02

    @property
    def label(self) -> str:
        gate = "redis" if self.backend == "postgres" else "db"
        nice = f" at nice {self.consumer_nice}" if self.consumer_nice else ""
        extra = f", {self.consumers} consumer(s){nice}" if gate == "redis" else ""
        crowd = ", real crowd" if self.crowd else ""
        return f"{self.server} ×{self.apps}{extra}, {gate} gate{crowd}"


@asynccontextmanager
async def _database(backend: str, tmp: Path) -> AsyncIterator[str]:
    async with fresh_database(backend, tmp, "loopmall_bench_flash") as url:
        yield url


def _env(settings: Settings, *, background: bool, crowd: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "LOOPMALL_DATABASE_URL": settings.database_url,
            "LOOPMALL_DATA_DIR": str(settings.data_dir),
            "LOOPMALL_SECRET_KEY": SECRET,
            "LOOPMALL_AUTO_MIGRATE": "false",
            "LOOPMALL_RUN_BACKGROUND": "true" if background else "false",
            "LOOPMALL_REDIS_PREFIX": settings.redis_prefix,
        }
    )
    for limit in ("LOOPMALL_FLASHSALE_RATE_PER_IP", "LOOPMALL_FLASHSALE_RATE_PER_CONSUMER"):
        env.pop(limit, None)  # the real crowd: both at their defaults
    if not crowd:
        # Every simulated shopper comes from this machine's one address.
        env["LOOPMALL_FLASHSALE_RATE_PER_IP"] = "0"
    env.pop("LOOPMALL_REDIS_URL", None)
    if settings.redis_url:
        env["LOOPMALL_REDIS_URL"] = settings.redis_url
    return env


async def _wait_http(url: str, timeout: float = 90.0) -> None:
    await wait_http(url, "/hello", timeout)


def _profiler(target: Path | None, pid: int, log_dir: Path) -> subprocess.Popen[bytes] | None:
    """py-spy recording the server (and its worker processes) as a speedscope file."""
    if target is None:
        return None
    cmd = [str(BIN / "py-spy"), "record", "--pid", str(pid), "--subprocesses"]
    cmd += ["--format", "speedscope", "--rate", "200", "-o", str(target)]
    out = (log_dir / "py-spy.log").open("ab")
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


async def _loadgen(args: list[str]) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.flashsale.loadgen",
        *args,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    try:
        out, _ = await proc.communicate()
    except BaseException:  # interrupted: the generator goes too
        with suppress(ProcessLookupError):
            proc.kill()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode})")
    result: dict[str, Any] = json.loads(out)
    return result


async def _ticket_counts(state: AppState, world: World) -> dict[str, int]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.execute(
            select(
                FlashTicket.status, func.count(), func.coalesce(func.sum(FlashTicket.quantity), 0)
            )
            .where(FlashTicket.sale_id == world.sale_id)
            .group_by(FlashTicket.status)
        )
        counts = {status: int(n) for status, n, _q in rows}
    return counts


async def _drain(state: AppState, world: World, accepted: int, timeout: float = 1800.0) -> float:
    """Seconds until every accepted request has its order."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        counts = await _ticket_counts(state, world)
        made = sum(n for s, n in counts.items() if s != "accepted")
        if counts.get("accepted", 0) == 0 and made >= accepted:
            return time.perf_counter() - began
        await asyncio.sleep(0.25)
    raise RuntimeError(f"orders not made within {timeout:.0f} s: {counts}")


async def _redis_memory(state: AppState, world: World) -> dict[str, int]:
    """Bytes of the reservations as the gate's bitmap, and as a set of the same ids."""
    redis = state.redis
    keys = SaleKeys(state.settings.redis_prefix, world.sale_id)
    bitmap = int(await redis.memory_usage(keys.reservations) or 0)
    scratch = keys.reservations + ":as-set"
    ids = world.customer_ids
    for i in range(0, len(ids), 50_000):
        await redis.sadd(scratch, *ids[i : i + 50_000])
    as_set = int(await redis.memory_usage(scratch, samples=0) or 0)
    await redis.delete(scratch)
    return {"bitmap": bitmap, "set": as_set}


def _crowd(setup: Setup, holders: list[int]) -> dict[str, Any] | None:
    """The real crowd's part of the plan: customer ids past every holder's (no reservation:
    the gate refuses them) and the shares of hostile attempts."""
    if not setup.crowd:
        return None
    first = max(holders, default=0) + 1
    return {
        "strangers": list(range(first, first + int(len(holders) * setup.stranger_share))),
        "forged_share": setup.forged_share,
        "expired_share": setup.expired_share,
        "replayed_share": setup.replayed_share,
    }


async def replay(setup: Setup, log_dir: Path) -> dict[str, Any]:
    """One replay; its figures."""
    redis_gate = setup.backend == "postgres"
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        async with _database(setup.backend, tmp) as url:
            settings = Settings(
                database_url=url,
                data_dir=tmp,
                redis_url=REDIS_URL if redis_gate else None,
                redis_prefix=f"lmbench:{uuid.uuid4().hex[:8]}:",
                secret_key=SECRET,
                auto_migrate=False,
                run_background=False,
            )
            state = AppState.build(settings)
            procs = Processes()
            try:
                t0 = time.perf_counter()
                world = await build_world(state, holders=setup.holders, stock=setup.stock)
                if not state.is_sqlite:
                    # What follows a bulk load in production (this machine's PostgreSQL
                    # runs without autovacuum): statistics for the 1.9 M new rows.
                    async with UnitOfWork(state.write_factory) as uow:
                        await uow.session.execute(text("ANALYZE"))
                        await uow.commit()
                setup_s = time.perf_counter() - t0
                port = _free_port()
                base = f"http://127.0.0.1:{port}"
                env = _env(settings, background=not redis_gate, crowd=setup.crowd)
                serve = ["serve", "--server", setup.server, "--workers", str(setup.apps)]
                serve += ["--port", str(port), "--no-access-log"]
                server = procs.start(_loopmall(*serve), env, log_dir / "server.log")
                for i in range(setup.consumers if redis_gate else 0):
                    cmd = _loopmall("flashsale-consumer", "--name", f"bench-{i}")
                    cmd += ["--nice", str(setup.consumer_nice)]
                    procs.start(cmd, env, log_dir / f"consumer-{i}.log")
                await _wait_http(base)
                memory: dict[str, int] = {}
                if redis_gate:
                    keys = SaleKeys(settings.redis_prefix, world.sale_id)
                    deadline = time.monotonic() + 300
                    while not await state.redis.exists(keys.stock):
                        if time.monotonic() > deadline:
                            raise RuntimeError("the consumer did not load the sale into Redis")
                        await asyncio.sleep(0.2)
                    memory = await _redis_memory(state, world)
                conc = str(setup.concurrency)
                use_wrk = setup.loadgen == "wrk"
                if use_wrk:
                    hello = await wrk.hello(base, HELLO_SECONDS, setup.concurrency)
                else:
                    hello_n = str(max(20_000, min(setup.holders, 100_000)))
                    hello = await _loadgen(
                        ["hello", "--url", base, "--requests", hello_n, "--concurrency", conc]
                    )

                rng = random.Random(7)
                holders = world.customer_ids
                plan = {
                    "secret": SECRET,
                    "sale_id": world.sale_id,
                    "path": world.buy_path,
                    "customers": holders,
                    "double_clickers": [c for c in holders if rng.random() < setup.double_share],
                    "retriers": [c for c in holders if rng.random() < setup.retry_share],
                    "crowd": _crowd(setup, holders),
                }
                plan_file = tmp / "plan.json"
                plan_file.write_text(json.dumps(plan))
                bodies = (
                    wrk.lay_out(plan, connections=setup.concurrency, retry_wave=False)
                    if use_wrk
                    else []
                )
                spy = _profiler(setup.profile, server.pid, log_dir)
                try:
                    if use_wrk:
                        sale = await wrk.replay(
                            base,
                            world.buy_path,
                            bodies,
                            tmp,
                            holders=len(holders),
                            connections=setup.concurrency,
                        )
                    else:
                        args = ["replay", "--url", base, "--plan", str(plan_file)]
                        sale = await _loadgen([*args, "--concurrency", conc])
                finally:
                    if spy is not None:
                        spy.send_signal(signal.SIGINT)
                        spy.wait(timeout=60)
                # The sale's own figures first, in case what follows fails.
                (log_dir / "sale.json").write_text(
                    json.dumps({k: v for k, v in sale.items() if k != "accepted_requests"})
                )
                drain_s = await _drain(state, world, sale["accepted"])
                paid, lapsed = await pay_and_lapse(state, world, setup.paid, setup.lapsed)

                winners = {int(r.rsplit("-", 1)[1]) for r in sale["accepted_requests"]}
                plan["retriers"] = [c for c in plan["retriers"] if c not in winners]
                plan_file.write_text(json.dumps(plan))
                if use_wrk:
                    wave = await wrk.replay(
                        base,
                        world.buy_path,
                        wrk.lay_out(plan, connections=setup.concurrency, retry_wave=True),
                        tmp,
                        holders=len(plan["retriers"]),
                        connections=setup.concurrency,
                    )
                else:
                    args = ["replay", "--url", base, "--plan", str(plan_file)]
                    wave = await _loadgen([*args, "--concurrency", conc, "--retry-wave"])
                await _drain(state, world, sale["accepted"] + wave["accepted"])
                figures = await figures_of(state, world, setup, sale, wave)
                figures.update(
                    hello=hello,
                    setup_s=setup_s,
                    orders_drain_s=drain_s,
                    paid=paid,
                    lapsed=lapsed,
                    redis_memory=memory,
                    wall_s=time.perf_counter() - wall,
                )
                return figures
            finally:
                procs.stop()
                if state.redis is not None:
                    found = [
                        k async for k in state.redis.scan_iter(match=f"{settings.redis_prefix}*")
                    ]
                    if found:
                        await state.redis.delete(*found)
                await state.close()
