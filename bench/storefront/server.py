"""One code version (the working tree, or a baseline commit's worktree) on one backend: its
world built by its own code (``world.py`` in a child process), the stand-ins, and
``loopmall serve`` with 1 or 2 app processes; on PostgreSQL + Redis also ``loopmall worker``
(the outbox) and ``loopmall flashsale-consumer`` (it loads the sale into Redis and makes the
orders), as in production. The embedded default (SQLite, no Redis) runs its background work in
the app process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import text

from bench.flashsale.replay import REDIS_URL
from bench.serving import Processes, free_port, fresh_database, loopmall_command, wait_http
from loopmall.core.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-storefront-secret"
SETTLE_SECONDS = 180.0


@dataclass(frozen=True)
class Code:
    """Which code is served: ``src`` None is this checkout (the editable install)."""

    label: str
    src: Path | None = None

    def env(self) -> dict[str, str]:
        """This process's environment without Loopmall's settings; ``src`` ahead of the
        editable install, and the repository (for ``bench``) importable."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPMALL_")}
        paths = [str(self.src)] if self.src else []
        env["PYTHONPATH"] = os.pathsep.join([*paths, str(ROOT)])
        return env


@dataclass
class World:
    """A database with the world in it, its plan, and where its processes log."""

    code: Code
    backend: str
    url: str
    data_dir: Path
    redis_prefix: str
    plan: dict[str, Any]
    build_s: float

    @property
    def redis_url(self) -> str:
        return REDIS_URL if self.backend == "postgres" else ""


async def run_child(cmd: list[str], env: dict[str, str], log: Path) -> None:
    """Run ``cmd`` from the repository, its output in ``log``; RuntimeError with the log's
    tail when it fails (and the child killed when the caller is interrupted)."""
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, cwd=str(ROOT), stdout=out, stderr=asyncio.subprocess.STDOUT
        )
        try:
            code = await proc.wait()
        except BaseException:
            proc.kill()
            raise
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(cmd[:4])} … failed ({code}):\n{tail}")


@asynccontextmanager
async def world(
    code: Code, backend: str, tmp: Path, *, sales: int, holders: int, units: int, grow: int
) -> AsyncIterator[World]:
    """A fresh database (migrated by ``code``'s own migrations) with the world in it."""
    name = f"lm_bench_store_{code.label}".replace("-", "_")
    data_dir = tmp / f"{code.label}-{backend}"
    data_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"lmstore:{uuid.uuid4().hex[:8]}:"
    # The parent's migrations would be the wrong ones for a baseline: the database is created
    # empty here and migrated by the world's process.
    async with fresh_database(backend, tmp, name, migrate_it=False) as url:
        cmd = [sys.executable, "-m", "bench.storefront.world", "--database-url", url]
        cmd += [
            "--data-dir",
            str(data_dir),
            "--secret",
            SECRET,
            "--out",
            str(data_dir / "plan.json"),
        ]
        cmd += ["--sales", str(sales), "--holders", str(holders), "--units", str(units)]
        cmd += ["--grow", str(grow), "--redis-prefix", prefix]
        if backend == "postgres":
            cmd += ["--redis-url", REDIS_URL]
        began = asyncio.get_running_loop().time()
        try:
            await run_child(cmd, code.env(), data_dir / "world.log")
            plan = json.loads((data_dir / "plan.json").read_text())
            took = asyncio.get_running_loop().time() - began
            yield World(code, backend, url, data_dir, prefix, plan, took)
        finally:
            if backend == "postgres":
                await _forget(prefix)


async def _forget(prefix: str) -> None:
    """The run's keys out of Redis (the sales, the read cache's generations)."""
    client = aioredis.from_url(REDIS_URL)
    try:
        found = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if found:
            await client.delete(*found)
    finally:
        await client.aclose()


@dataclass
class Server:
    base: str
    wechatpay: str
    apps: int
    log_dir: Path
    procs: Processes

    def tracebacks(self) -> int:
        return sum(
            log.read_text(errors="replace").count("Traceback") for log in self.log_dir.glob("*.log")
        )


def _env(w: World, base: str, outside: dict[str, str], *, background: bool) -> dict[str, str]:
    env = w.code.env()
    env.update(
        {
            "LOOPMALL_DATABASE_URL": w.url,
            "LOOPMALL_DATA_DIR": str(w.data_dir),
            "LOOPMALL_SECRET_KEY": SECRET,
            "LOOPMALL_AUTO_MIGRATE": "false",
            "LOOPMALL_RUN_BACKGROUND": "true" if background else "false",
            "LOOPMALL_REDIS_PREFIX": w.redis_prefix,
            "LOOPMALL_BASE_URL": base,
            "LOOPMALL_SANDBOX_LOGIN": "true",
            # Every simulated shopper comes from this machine's one address.
            "LOOPMALL_FLASHSALE_RATE_PER_IP": "0",
            "LOOPMALL_WECHATPAY_BASE_URL": outside["wechatpay"],
            "LOOPMALL_ALIPAY_GATEWAY_URL": outside["alipay"] + "/gateway.do",
            "LOOPMALL_WECHAT_API_BASE_URL": outside["wechat"],
            "LOOPMALL_WECHAT_OPEN_BASE_URL": outside["wechat"],
            "LOOPMALL_SMS_BASE_URL": outside["sms"],
        }
    )
    if w.redis_url:
        env["LOOPMALL_REDIS_URL"] = w.redis_url
    return env


async def _wait_file(path: Path, timeout: float = 120.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not path.exists():
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"{path.name} was not written (see the stand-ins' log)")
        await asyncio.sleep(0.2)


@asynccontextmanager
async def serve(w: World, apps: int, log_dir: Path) -> AsyncIterator[Server]:
    """The stand-ins and the app (``apps`` processes) over ``w``; every process ends after."""
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = Processes()
    try:
        outside_file = log_dir / "outside.json"
        cmd = [sys.executable, "-m", "bench.soak.standins", "--data-dir", str(w.data_dir)]
        procs.start([*cmd, "--out", str(outside_file)], w.code.env(), log_dir / "standins.log")
        await _wait_file(outside_file)
        outside = json.loads(outside_file.read_text())
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        embedded = w.backend == "sqlite"
        serve_cmd = loopmall_command(
            "serve", "--workers", str(apps), "--port", str(port), "--no-access-log"
        )
        procs.start(serve_cmd, _env(w, base, outside, background=embedded), log_dir / "server.log")
        if not embedded:
            env = _env(w, base, outside, background=True)
            procs.start(loopmall_command("worker"), env, log_dir / "worker.log")
            consumer = loopmall_command("flashsale-consumer", "--name", "bench-0", "--nice", "10")
            procs.start(consumer, env, log_dir / "consumer.log")
        await wait_http(base, "/healthz", timeout=180)
        yield Server(base, outside["wechatpay"], apps, log_dir, procs)
    finally:
        procs.stop()


async def settle(url: str, timeout: float = SETTLE_SECONDS) -> tuple[float, int]:
    """Wait until the outbox has no pending event (the world's build leaves thousands: the
    stock top-ups, the sales): a relay catching up would be measured with the pages. The
    seconds waited, and what is still pending after ``timeout``."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        while True:
            async with engine.connect() as conn:
                pending = int(
                    await conn.scalar(
                        text("SELECT count(*) FROM outbox_events WHERE status = 'pending'")
                    )
                    or 0
                )
            waited = loop.time() - began
            if pending == 0 or waited > timeout:
                return waited, pending
            await asyncio.sleep(1.0)
    finally:
        await engine.dispose()
