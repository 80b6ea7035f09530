"""Sizes, the skip when PostgreSQL or Redis is absent, and where the figures go."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.flashsale.runner import _redis_ok
from bench.harness import Row, postgres_reachable
from bench.soak.report import print_report, rows_of, summarize
from bench.soak.runner import soak

RESULTS = Path(__file__).resolve().parents[1] / "results"
SMALL_SECONDS, FULL_SECONDS = 60.0, 600.0
# Journeys a second that this 2-core machine carries with the app, the worker, the
# stand-ins, PostgreSQL, Redis and the generator on it (README: how it was measured).
RATE = 6.0


async def run_soak(
    console: Console,
    *,
    full: bool,
    seconds: float | None = None,
    rate: float | None = None,
    tracemalloc: str | None = None,
) -> list[Row]:
    if not await postgres_reachable():
        console.print(
            "[yellow]soak skipped: it needs PostgreSQL (LOOPMALL_TEST_POSTGRES_URL)[/yellow]"
        )
        return []
    if not await _redis_ok():
        console.print("[yellow]soak skipped: it needs Redis (LOOPMALL_BENCH_REDIS_URL)[/yellow]")
        return []
    seconds = seconds or (FULL_SECONDS if full else SMALL_SECONDS)
    rate = rate or RATE
    logs = Path(tempfile.mkdtemp(prefix="lm-soak-logs-"))
    console.print(
        f"  soak: {rate:g} journeys/s for {seconds:.0f} s on PostgreSQL + Redis (logs {logs})"
    )
    figures = await soak(
        seconds=seconds, rate=rate, log_dir=logs, console=console, tracemalloc=tracemalloc
    )
    summary = summarize(figures)
    print_report(console, summary)
    RESULTS.mkdir(exist_ok=True)
    payload: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "size": "full" if full else "small",
        "summary": summary,
        "raw": figures,
    }
    (RESULTS / "soak-latest.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    console.print(f"  wrote {RESULTS / 'soak-latest.json'}")
    return rows_of(summary)
