"""The countdown's token burst at full size (issue #21 item 1).

Three ``loopmall serve`` processes at the default pool settings (20 + 20 connections each:
together more than PostgreSQL's default ``max_connections`` of 100) and 256 reservation
holders asking for their sale token at the same moment, each on a connection of its own.
The promise: nobody sees a 5xx but a 503 with Retry-After. Reports the answers by status
and the answers' p50/p99. The test (tests/flashsale/test_token_burst.py) runs the same at
64 shoppers with tiny pools; this is the size the issue names.

    .venv/bin/python -m bench.flashsale.burst [--shoppers 256] [--apps 3] [--rounds 1]
    .venv/bin/python -m bench --only flashsale_burst

PostgreSQL (``LOOPMALL_TEST_POSTGRES_URL``), database gate (no Redis: the token step does
not touch Redis except for a Redis sale's reservation bitmap).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.flashsale.replay import SECRET
from bench.flashsale.world import World, build_world
from bench.harness import CONSOLE, BenchContext, Row, median, percentile, postgres_reachable
from bench.serving import Processes, free_port, fresh_database, loopmall_command, wait_http
from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Customer
from loopmall.customers.service import open_session


@dataclass
class BurstFigures:
    shoppers: int
    apps: int
    statuses: Counter[int] = field(default_factory=Counter)
    retry_afters: set[str | None] = field(default_factory=set)
    latencies_ms: list[float] = field(default_factory=list)
    no_answer: int = 0

    @property
    def server_errors(self) -> int:
        """5xx other than 503 (each a broken promise), plus requests that got no answer."""
        return sum(n for s, n in self.statuses.items() if s >= 500 and s != 503) + self.no_answer

    def rows(self, name: str = "flashsale_burst") -> list[Row]:
        params = {"shoppers": self.shoppers, "apps": self.apps, "pool": "default"}
        figures = [
            ("201 token", float(self.statuses[201]), "answers"),
            ("503 busy", float(self.statuses[503]), "answers"),
            ("other 5xx or no answer", float(self.server_errors), "answers"),
            ("p50", median(self.latencies_ms), "ms"),
            ("p99", percentile(self.latencies_ms, 99), "ms"),
        ]
        return [Row(name, "postgres", m, v, u, params) for m, v, u in figures]


async def _sessions(state: AppState, world: World) -> list[dict[str, str]]:
    """A logged-in session (bearer header) for each holder of the world."""
    headers: list[dict[str, str]] = []
    async with UnitOfWork(state.write_factory) as uow:
        for customer_id in world.customer_ids:
            customer = await uow.session.get(Customer, customer_id)
            assert customer is not None
            token = await open_session(
                uow.session, world.tenant, customer, method="sandbox", kind="api"
            )
            headers.append({"Authorization": f"Bearer {token}"})
        await uow.commit()
    return headers


async def _ask(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], into: BurstFigures
) -> None:
    began = time.perf_counter()
    try:
        answer = await client.post(path, headers=headers)
    except httpx.HTTPError:
        into.no_answer += 1
        return
    into.latencies_ms.append((time.perf_counter() - began) * 1000)
    into.statuses[answer.status_code] += 1
    if answer.status_code == 503:
        into.retry_afters.add(answer.headers.get("retry-after"))


async def _burst(
    base: str, world: World, sessions: list[dict[str, str]], apps: int
) -> BurstFigures:
    """Every shopper asks at once, each on a connection of its own (none reused)."""
    path = f"/api/v1/mall/{world.tenant.slug}/flash/{world.sale_public_id}/token"
    figures = BurstFigures(shoppers=len(sessions), apps=apps)
    limits = httpx.Limits(max_connections=len(sessions), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        await asyncio.gather(*(_ask(client, path, h, figures) for h in sessions))
    return figures


def _env(url: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "LOOPMALL_DATABASE_URL": url,
            "LOOPMALL_DATA_DIR": str(data_dir),
            "LOOPMALL_SECRET_KEY": SECRET,
            "LOOPMALL_AUTO_MIGRATE": "false",
            "LOOPMALL_RUN_BACKGROUND": "false",
        }
    )
    for name in ("LOOPMALL_REDIS_URL", "LOOPMALL_DB_POOL_SIZE", "LOOPMALL_DB_MAX_OVERFLOW"):
        env.pop(name, None)  # the default pools, the database gate
    env.pop("LOOPMALL_DB_POOL_TIMEOUT_SECONDS", None)
    return env


async def measure(shoppers: int, apps: int, rounds: int) -> list[BurstFigures]:
    """One world of ``shoppers`` holders, served by ``apps`` processes; ``rounds`` bursts
    (the first meets cold processes, as at a countdown)."""
    tmp = Path(tempfile.mkdtemp(prefix="lm-burst-"))
    async with fresh_database("postgres", tmp, "loopmall_bench_burst") as url:
        state = AppState.build(Settings(database_url=url, data_dir=tmp))
        try:
            world = await build_world(state, holders=shoppers, stock=shoppers)
            sessions = await _sessions(state, world)
        finally:
            await state.close()
        port = free_port()
        procs = Processes()
        serve = ["serve", "--port", str(port), "--workers", str(apps), "--no-access-log"]
        procs.start(loopmall_command(*serve), _env(url, tmp), tmp / "serve.log")
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_http(base, "/hello", 120)
            return [await _burst(base, world, sessions, apps) for _ in range(rounds)]
        finally:
            procs.stop()


async def run(ctx: BenchContext) -> list[Row]:
    if "postgres" not in ctx.backends:
        CONSOLE.print("  flashsale_burst runs on PostgreSQL only: skipped")
        return []
    figures = await measure(256, 3, 1)
    for f in figures:
        _print(f)
    return [row for f in figures for row in f.rows()]


def _print(f: BurstFigures) -> None:
    CONSOLE.print(
        f"token burst, {f.apps} app processes (default pools), {f.shoppers} shoppers: "
        f"{dict(sorted(f.statuses.items()))}, no answer {f.no_answer}; "
        f"p50 {median(f.latencies_ms):.0f} ms, p99 {percentile(f.latencies_ms, 99):.0f} ms; "
        f"Retry-After of the 503s {sorted(map(str, f.retry_afters))}; "
        f"other 5xx or no answer: {f.server_errors}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.flashsale.burst")
    parser.add_argument("--shoppers", type=int, default=256)
    parser.add_argument("--apps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1, help="bursts against the same servers")
    args = parser.parse_args()
    if not await postgres_reachable():
        raise SystemExit("PostgreSQL unreachable")
    for figures in await measure(args.shoppers, args.apps, args.rounds):
        _print(figures)


if __name__ == "__main__":
    asyncio.run(main())
