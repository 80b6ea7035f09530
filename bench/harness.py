"""What every benchmark gets: a size, fresh migrated databases per backend, a result row type.

A benchmark module is ``bench/bench_<name>.py`` defining ``async def run(ctx) -> list[Row]``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import text

from loopmall.config import Settings
from loopmall.core import migrate
from loopmall.core.db import make_engine
from loopmall.core.state import AppState

PG_URL = os.environ.get(
    "LOOPMALL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@dataclass
class Row:
    benchmark: str
    backend: str
    metric: str
    value: float
    unit: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BenchContext:
    full: bool
    backends: list[str]

    def size(self, small: int, full: int) -> int:
        return full if self.full else small

    @asynccontextmanager
    async def fresh_state(self, backend: str) -> AsyncIterator[AppState]:
        """A migrated, empty database on ``backend`` and an AppState over it."""
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                await asyncio.to_thread(migrate.upgrade, url)
                state = AppState.build(Settings(database_url=url, data_dir=Path(tmp)))
                try:
                    yield state
                finally:
                    await state.close()
            return
        base = PG_URL.rpartition("/")[0]
        name = f"loopmall_bench_{os.getpid()}"
        admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{base}/{name}"
        await asyncio.to_thread(migrate.upgrade, url)
        with tempfile.TemporaryDirectory() as tmp:
            state = AppState.build(Settings(database_url=url, data_dir=Path(tmp)))
            try:
                yield state
            finally:
                await state.close()
                async with admin.connect() as conn:
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                await admin.dispose()


CONSOLE = Console(highlight=False)


class Progress:
    """Lines that show a long step moving ("building orders 20,000/100,000 … 12.3 s"):
    about ``lines`` of them, the last at ``total``. Call ``update`` once per chunk or batch,
    never per item of a timed loop, so what is measured stays the same."""

    def __init__(self, label: str, total: int, *, lines: int = 10) -> None:
        self.label, self.total = label, total
        self.every = max(1, -(-total // lines))
        self.next = self.every
        self.finished = False
        self.started = time.perf_counter()

    def update(self, done: int) -> None:
        if self.finished or (done < self.next and done < self.total):
            return
        self.finished = done >= self.total
        while self.next <= done:
            self.next += self.every
        seconds = time.perf_counter() - self.started
        CONSOLE.print(
            f"  {self.label} {done:,}/{self.total:,} … {seconds:.1f} s", style="dim", markup=False
        )


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


async def postgres_reachable() -> bool:
    engine = make_engine(PG_URL, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()
