"""What the benchmarks that serve the app share: a fresh database by name, the app as real
server processes (``loopmall serve``), a free port, waiting until it answers.

Used by the flash-sale replay (``bench/flashsale``), the chain-scale walk
(``bench/chainscale``) and the soak (``bench/soak``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import httpx
from sqlalchemy import text

from bench.harness import PG_URL
from loopmall.core import migrate
from loopmall.core.db import make_engine

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loopmall_command(*args: str) -> list[str]:
    """``loopmall …`` from this virtualenv (or through this interpreter without the script)."""
    script = BIN / "loopmall"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from loopmall.cli import app; app()", *args]


class Processes:
    """Child processes, each in its own session; ``stop`` ends them all (TERM, then KILL)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        out = log.open("ab")
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


async def wait_http(url: str, path: str = "/hello", timeout: float = 90.0) -> None:
    """Until ``url`` + ``path`` answers 200 (RuntimeError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=url) as client:
        while time.monotonic() < deadline:
            with suppress(httpx.HTTPError):
                if (await client.get(path)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the server at {url} did not come up")


@asynccontextmanager
async def fresh_database(
    backend: str, tmp: Path, name: str, *, keep: bool = False, migrate_it: bool = True
) -> AsyncIterator[str]:
    """The URL of a migrated, empty database: ``tmp/<name>.db`` on SQLite, a database
    ``<name>_<pid>`` on PostgreSQL (dropped afterwards, its sessions ended, unless ``keep``).
    With ``migrate_it`` False it stays empty (another checkout's migrations will build it)."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / f'{name}.db'}"
        if migrate_it:
            await asyncio.to_thread(migrate.upgrade, url)
        yield url
        return
    db = f"{name}_{os.getpid()}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{db}"'))
        await conn.execute(text(f'CREATE DATABASE "{db}"'))
    url = f"{PG_URL.rpartition('/')[0]}/{db}"
    if migrate_it:
        await asyncio.to_thread(migrate.upgrade, url)
    try:
        yield url
    finally:
        if not keep:
            async with admin.connect() as conn:
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :n AND pid <> pg_backend_pid()"
                    ),
                    {"n": db},
                )
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{db}"'))
        await admin.dispose()
