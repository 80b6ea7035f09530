"""Load the world, serve it, walk every console page and list endpoint, time them.

The app runs as its own process (``loopmall serve``, uvicorn, one worker, no background
jobs) against the loaded database; this process is the load generator: aiohttp, 8 users
per route, each with its own connection. Per route: two untimed warm-up requests and one
untimed round of 8 at once, then ``requests`` timed ones, 8 at a time — p50/p95/max and the
ratio of the p95 to the same
server's bare ``/healthz`` p95, measured in the same run. Then "none blocks other tenants":
while 8 users hit the big merchant's heaviest pages, a small tenant's mall page and
``/healthz`` are timed (their p95 against the same probes on an idle server).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from rich.table import Table

from bench.chainscale.walker import Skipped, Target, walk
from bench.chainscale.world import Size, World, build_world, load_line, reopen_world
from bench.harness import CONSOLE, Row, percentile
from bench.serving import Processes, free_port, fresh_database, loopmall_command, wait_http
from loopmall.app import create_app
from loopmall.config import Settings
from loopmall.core.state import AppState

NAME = "chainscale"
SLOW_MS = 300.0
SLOW_WARMUP_MS = 5_000.0
TIMEOUT_S = 600.0
USERS = 8
RESULTS = Path(__file__).resolve().parents[1] / "results"
SECRET = "bench-chainscale-secret"


@dataclass
class Timing:
    route: str
    url: str
    kind: str
    n: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    statuses: dict[str, int]
    ratio: float = 0.0  # p95 / the bare /healthz p95 of the same run

    @property
    def ok(self) -> bool:
        return set(self.statuses) <= {"200"}


@dataclass
class Report:
    backend: str
    size: dict[str, int]
    load_seconds: dict[str, float]
    rows_loaded: dict[str, int]
    healthz: dict[str, float]
    timings: list[Timing] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    tenants: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["timings"] = [asdict(t) | {"over_300ms": t.p95_ms > SLOW_MS} for t in self.timings]
        return d


def server_env(settings: Settings) -> dict[str, str]:
    """The served app's settings: the loaded database, no background jobs (the sweep would
    start cancelling the world's unpaid orders), no migration."""
    env = dict(os.environ)
    env.update(
        {
            "LOOPMALL_DATABASE_URL": settings.database_url,
            "LOOPMALL_DATA_DIR": str(settings.data_dir),
            "LOOPMALL_SECRET_KEY": SECRET,
            "LOOPMALL_AUTO_MIGRATE": "false",
            "LOOPMALL_RUN_BACKGROUND": "false",
        }
    )
    env.pop("LOOPMALL_REDIS_URL", None)
    return env


async def _time(
    http: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    requests: int,
    users: int = USERS,
    warmup: int = 2,
) -> tuple[list[float], dict[str, int]]:
    """``requests`` GETs of ``url``, ``users`` at a time; latencies in ms and the statuses.

    A route whose first warm-up request takes longer than ``SLOW_WARMUP_MS`` is timed by
    that one request: at full size it may take minutes, 8 at a time would keep the one
    server process busy for far longer (and skew every route after it), and its p95 at 8
    users is over the target either way. A request that passes the client's timeout counts
    as ``timeout`` at the timeout's length."""
    statuses: dict[str, int] = {}

    async def one() -> float:
        t0 = time.perf_counter()
        try:
            async with http.get(url, headers=headers, allow_redirects=False) as r:
                await r.read()
                status = str(r.status)
        except TimeoutError:
            status = "timeout"
        statuses[status] = statuses.get(status, 0) + 1
        return (time.perf_counter() - t0) * 1000

    first = await one()
    if first > SLOW_WARMUP_MS:
        return [first], statuses
    for _ in range(warmup - 1):
        await one()
    # One untimed round with every user at once, so each of the server's pooled connections
    # has met the route's statements before the clock starts: a steady crowd's figure, not
    # the first round's (at 1/10 size the first round of 8 alone set the p95 of several pages:
    # p95 ≈ max ≈ 4 × p50).
    await asyncio.gather(*(one() for _ in range(users)))
    statuses.clear()
    latencies: list[float] = []
    left = requests

    async def user() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            latencies.append(await one())

    await asyncio.gather(*(user() for _ in range(users)))
    return latencies, statuses


def _headers(world: World, target: Target) -> dict[str, str]:
    if not target.auth:
        return {}
    if target.kind == "api":
        return {"Authorization": f"Bearer {world.owner_token}"}
    return {"Cookie": f"{world.cookie_name}={world.owner_cookie}"}


async def _settled(http: aiohttp.ClientSession, timeout: float = TIMEOUT_S) -> None:
    """Until the server answers /healthz at once again (the requests the client gave up on
    have finished)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        async with http.get("/healthz") as r:
            await r.read()
        if time.perf_counter() - t0 < 0.2:
            return
        await asyncio.sleep(1)


async def _probe_while(
    http: aiohttp.ClientSession,
    world: World,
    heavy: list[Target],
    seconds: float,
) -> dict[str, Any]:
    """The small tenant's mall page and /healthz, one user each, timed while ``USERS``
    users keep requesting the heaviest pages of the big merchant."""
    probes = {"mall": f"/m/{world.small_slug}/", "healthz": "/healthz"}
    idle = {}
    for name, url in probes.items():
        lat, _ = await _time(http, url, {}, 40, users=1)
        idle[name] = percentile(lat, 95)
    stop = asyncio.Event()
    hits: list[float] = []

    async def hammer(i: int) -> None:
        target = heavy[i % len(heavy)]
        while not stop.is_set():
            t0 = time.perf_counter()
            with suppress(TimeoutError):
                async with http.get(target.url, headers=_headers(world, target)) as r:
                    await r.read()
            hits.append((time.perf_counter() - t0) * 1000)

    async def probe(url: str, out: list[float]) -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            async with http.get(url) as r:
                await r.read()
            out.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.05)

    loaded: dict[str, list[float]] = {name: [] for name in probes}
    tasks = [asyncio.create_task(hammer(i)) for i in range(USERS)]
    tasks += [asyncio.create_task(probe(url, loaded[name])) for name, url in probes.items()]
    await asyncio.sleep(seconds)
    stop.set()
    for task in tasks:  # a heavy request at full size may run for minutes: not waited for
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await _settled(http)
    return {
        "heavy_routes": [t.route for t in heavy],
        "seconds": seconds,
        "heavy_requests": len(hits),
        "heavy_p95_ms": percentile(hits, 95),
        **{f"{name}_idle_p95_ms": v for name, v in idle.items()},
        **{f"{name}_loaded_p95_ms": percentile(v, 95) for name, v in loaded.items()},
        **{f"{name}_loaded_max_ms": max(v, default=0.0) for name, v in loaded.items()},
        **{f"{name}_loaded_n": len(v) for name, v in loaded.items()},
    }


async def measure(
    base: str,
    world: World,
    targets: list[Target],
    requests: int,
    probe_seconds: float,
    backend: str,
) -> tuple[list[Timing], dict[str, float], dict[str, Any]]:
    connector = aiohttp.TCPConnector(limit=USERS + 4)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as http:
        lat, _ = await _time(http, "/healthz", {}, 400, warmup=20)
        healthz = {"p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95), "max_ms": max(lat)}
        CONSOLE.print(f"  /healthz p50 {healthz['p50_ms']:.1f} ms, p95 {healthz['p95_ms']:.1f} ms")
        timings: list[Timing] = []
        for target in targets:
            lat, statuses = await _time(http, target.url, _headers(world, target), requests)
            t = Timing(
                target.route,
                target.url,
                target.kind,
                len(lat),
                percentile(lat, 50),
                percentile(lat, 95),
                max(lat),
                statuses,
                percentile(lat, 95) / healthz["p95_ms"] if healthz["p95_ms"] else 0.0,
            )
            timings.append(t)
            flag = " [red]> 300 ms[/red]" if t.p95_ms > SLOW_MS else ""
            bad = "" if t.ok else f" [yellow]{statuses}[/yellow]"
            CONSOLE.print(
                f"  {backend} {t.route}: p50 {t.p50_ms:.0f} ms, p95 {t.p95_ms:.0f} ms{flag}{bad}",
                highlight=False,
            )
        timings.sort(key=lambda t: t.p95_ms, reverse=True)
        # The heaviest routes that can be repeated (a request under SLOW_WARMUP_MS): a route
        # of minutes per request would leave the server busy long after the probe.
        repeatable = [t for t in timings if t.ok and t.n > 1][:3]
        by_route = {target.route: target for target in targets}
        heavy = [by_route[t.route] for t in repeatable]
        tenants = await _probe_while(http, world, heavy or targets[:1], probe_seconds)
    return timings, healthz, tenants


def print_report(report: Report, top: int | None = None) -> None:
    table = Table(title=f"Chain-scale routes, {report.backend} (sorted by p95)")
    for col in ("route", "kind", "p50 ms", "p95 ms", "max ms", "× healthz", "status"):
        table.add_column(col, justify="left" if col in ("route", "kind", "status") else "right")
    for t in report.timings[:top]:
        style = "red" if t.p95_ms > SLOW_MS else None
        status = ",".join(f"{k}×{v}" for k, v in sorted(t.statuses.items()))
        table.add_row(
            t.route, t.kind, f"{t.p50_ms:.0f}", f"{t.p95_ms:.0f}", f"{t.max_ms:.0f}",
            f"{t.ratio:.0f}", status, style=style,
        )  # fmt: skip
    CONSOLE.print(table)
    if report.skipped:
        CONSOLE.print(f"  skipped {len(report.skipped)} route(s):", style="dim")
        for s in report.skipped:
            CONSOLE.print(f"    {s.kind} {s.route}: {s.reason}", style="dim", markup=False)
    p = report.tenants
    if p:
        CONSOLE.print(
            f"  other tenants while 8 users hit {', '.join(p['heavy_routes'])}: "
            f"mall p95 {p['mall_idle_p95_ms']:.0f} → {p['mall_loaded_p95_ms']:.0f} ms, "
            f"/healthz p95 {p['healthz_idle_p95_ms']:.0f} → {p['healthz_loaded_p95_ms']:.0f} ms",
            markup=False,
        )


def rows_of(report: Report) -> list[Row]:
    b = report.backend
    base = {"stores": report.size["stores"], "orders": report.size["orders"]}
    rows = [Row(NAME, b, f"load {k}", v, "s", base) for k, v in report.load_seconds.items()]
    rows.append(Row(NAME, b, "/healthz p95", report.healthz["p95_ms"], "ms", base))
    for t in report.timings:
        params: dict[str, Any] = base | {
            "p50": round(t.p50_ms),
            "max": round(t.max_ms),
            "x_healthz": round(t.ratio),
        }
        if t.p95_ms > SLOW_MS:
            params["over_300ms"] = True
        if not t.ok:
            params["statuses"] = t.statuses
        rows.append(Row(NAME, b, f"p95 {t.route}", t.p95_ms, "ms", params))
    rows.append(
        Row(
            NAME,
            b,
            "routes over 300 ms",
            sum(t.p95_ms > SLOW_MS for t in report.timings),
            "routes",
            base,
        )
    )
    rows.append(Row(NAME, b, "routes skipped", len(report.skipped), "routes", base))
    p = report.tenants
    for key in (
        "mall_idle_p95_ms",
        "mall_loaded_p95_ms",
        "healthz_idle_p95_ms",
        "healthz_loaded_p95_ms",
    ):
        if key in p:
            rows.append(
                Row(
                    NAME,
                    b,
                    f"other tenant {key.removesuffix('_ms').replace('_', ' ')}",
                    p[key],
                    "ms",
                    base,
                )
            )
    return rows


@asynccontextmanager
async def loaded(
    backend: str, tmp: Path, size: Size, *, keep: bool, reuse: str | None
) -> AsyncIterator[tuple[Settings, World]]:
    """A database with the world in it — loaded now, or (``reuse``) one a ``--keep`` run
    left — and the world's handles (sessions, samples)."""

    def settings_for(url: str) -> Settings:
        return Settings(
            database_url=url, data_dir=tmp, secret_key=SECRET, auto_migrate=False,
            run_background=False,
        )  # fmt: skip

    if reuse:
        settings = settings_for(reuse)
        state = AppState.build(settings)
        try:
            world = await reopen_world(state)
        finally:
            await state.close()
        saved = RESULTS / f"chainscale-{backend}-load.json"
        if saved.exists():
            load = json.loads(saved.read_text())
            if load.get("url") == reuse:
                world.load_seconds, world.rows = load["load_seconds"], load["rows"]
        CONSOLE.print(f"  {backend}: reusing {load_line(world)}", markup=False)
        yield settings, world
        return
    async with fresh_database(backend, tmp, "loopmall_bench_chainscale", keep=keep) as url:
        settings = settings_for(url)
        state = AppState.build(settings)
        try:
            CONSOLE.print(f"  {backend}: loading the world ({size})", markup=False)
            world = await build_world(state, size)
            CONSOLE.print(f"  {backend}: {load_line(world)}", markup=False)
        finally:
            await state.close()
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"chainscale-{backend}-load.json").write_text(
            json.dumps(
                {
                    "url": url if keep else None,
                    "size": asdict(size),
                    "load_seconds": world.load_seconds,
                    "rows": world.rows,
                },
                indent=2,
            )
        )
        yield settings, world
        if keep:
            CONSOLE.print(f"  kept the database: {url}", markup=False)


async def run_backend(
    backend: str,
    size: Size,
    *,
    requests: int,
    probe_seconds: float,
    only: str | None = None,
    keep: bool = False,
    reuse: str | None = None,
) -> Report:
    """Load the world on ``backend`` (or reuse a loaded one), serve it, time it; the report
    (also written as JSON)."""
    with tempfile.TemporaryDirectory(prefix="lm-chainscale-") as tmp_name:
        tmp = Path(tmp_name)
        async with loaded(backend, tmp, size, keep=keep, reuse=reuse) as (settings, world):
            targets, skipped = walk(create_app(settings), world.samples)
            if only:
                targets = [t for t in targets if re.search(only, t.route)]
            procs = Processes()
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            env = server_env(settings)
            log = tmp / "server.log"
            server = ["serve", "--port", str(port), "--no-access-log"]
            procs.start(loopmall_command(*server), env, log)
            try:
                await wait_http(base, "/healthz", timeout=120)
                timings, healthz, tenants = await measure(
                    base, world, targets, requests, probe_seconds, backend
                )
            except BaseException:
                CONSOLE.print(log.read_text(errors="replace")[-3000:], markup=False)
                raise
            finally:
                procs.stop()
            errors = [
                line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line
            ]
            if errors:
                CONSOLE.print(f"  [yellow]{len(errors)} traceback(s) in the server log[/yellow]")
            report = Report(
                backend,
                asdict(world.size),
                world.load_seconds,
                world.rows,
                healthz,
                timings,
                skipped,
                tenants,
            )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"chainscale-{backend}-latest.json"
    out.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    CONSOLE.print(f"  wrote {out.name}")
    return report
