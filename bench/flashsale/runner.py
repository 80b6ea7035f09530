"""Which replays run, and their figures as benchmark rows."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.flashsale import wrk
from bench.flashsale.replay import REDIS_URL, Setup, replay
from bench.harness import BenchContext, Row

NAME = "flashsale"
HERE = Path(__file__).resolve().parent
SMALL = (50_000, 5_000)
FULL = (1_938_000, 150_000)


def setups(
    full: bool,
    backends: list[str],
    *,
    holders: int | None = None,
    stock: int | None = None,
    loadgen: str | None = None,
) -> list[Setup]:
    n, s = FULL if full else SMALL
    n, s = holders or n, stock or s
    generator = loadgen or ("wrk" if wrk.available() else "aiohttp")
    sample: dict[str, Any] = (
        {"paid": 2000, "lapsed": 1000} if full else {"paid": 1000, "lapsed": 250}
    )
    sample["loadgen"] = generator
    found: list[Setup] = []
    if "sqlite" in backends:
        found.append(Setup("sqlite", n, s, "uvicorn", **sample))
    if "postgres" in backends:
        found += [
            Setup("postgres", n, s, "uvicorn", 1, 1, **sample),
            Setup("postgres", n, s, "granian", 1, 1, **sample),
            Setup("postgres", n, s, "uvicorn", 2, 2, **sample),
            Setup("postgres", n, s, "granian", 2, 2, **sample),
        ]
        if generator == "wrk":  # the real crowd's plan needs wrk's per-line addresses
            found.append(Setup("postgres", n, s, "uvicorn", 1, 1, crowd=True, **sample))
    return found


async def _redis_ok() -> bool:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
        return True
    except Exception:
        return False
    finally:
        await client.aclose()


def rows_of(f: dict[str, Any]) -> list[Row]:
    setup = f["setup"]
    backend = "postgres+redis" if setup["backend"] == "postgres" else "sqlite"
    params = {
        "loadgen": setup.get("loadgen", "aiohttp"),
        "server": setup["server"],
        "apps": setup["apps"],
        "consumers": setup["consumers"] if setup["backend"] == "postgres" else 0,
        "holders": setup["holders"],
        "units": setup["stock"],
        "crowd": "real" if setup.get("crowd") else "clean",
    }
    sale, hello = f["sale"], f["hello"]
    ratio = sale["attempts_per_s"] / hello["req_per_s"] if hello["req_per_s"] else 0.0
    until = sale["attempts_per_s_until_sold_out"]
    values = [
        ("gate attempts/s", sale["attempts_per_s"], "1/s"),
        ("gate attempts/s until sold out", sale["attempts_per_s_until_sold_out"], "1/s"),
        ("gate p50", sale["p50_ms"], "ms"),
        ("gate p99", sale["p99_ms"], "ms"),
        ("hello-JSON req/s", hello["req_per_s"], "1/s"),
        ("gate / hello", ratio, "ratio"),
        (
            "gate / hello until sold out",
            until / hello["req_per_s"] if hello["req_per_s"] else 0.0,
            "ratio",
        ),
        ("time to sell out", sale["sell_out_s"], "s"),
        ("replay (all attempts)", sale["elapsed_s"], "s"),
        ("orders all made after", f["orders_drain_s"], "s"),
        ("sold", f["sold"], "units"),
        ("paid (sample)", f["paid"], "orders"),
        ("lapsed (sample)", f["lapsed"], "orders"),
        ("resold", f["resold"], "units"),
        ("oversold", f["oversold"], "units"),
        ("undersold", f["undersold"], "units"),
        ("duplicate buyers", f["duplicate_buyers"], "customers"),
        ("lost accepted", f["lost_accepted"], "requests"),
        ("wall", f["wall_s"], "s"),
    ]
    if f["redis_memory"]:
        values.append(("reservations bitmap", f["redis_memory"]["bitmap"] / 2**20, "MiB"))
        values.append(("reservations as a set", f["redis_memory"]["set"] / 2**20, "MiB"))
    if f["reconciled"] is not None:
        values.append(("redis = database", 1.0 if f["reconciled"] else 0.0, "bool"))
    return [Row(NAME, backend, metric, float(v), unit, params) for metric, v, unit in values]


async def run_setups(
    chosen: list[Setup], console: Console
) -> tuple[list[Row], list[dict[str, Any]]]:
    rows: list[Row] = []
    figures: list[dict[str, Any]] = []
    if any(s.backend == "postgres" for s in chosen) and not await _redis_ok():
        console.print("[yellow]Redis unreachable: the Redis gate replays are skipped[/yellow]")
        chosen = [s for s in chosen if s.backend != "postgres"]
    for setup in chosen:
        console.print(
            f"  replay: {setup.label}, {setup.holders:,} holders / {setup.stock:,} units"
            f" (load from {setup.loadgen})"
        )
        logs = Path(tempfile.mkdtemp(prefix="lm-flash-"))
        began = time.perf_counter()
        f = await replay(setup, logs)
        console.print(
            f"    {f['sale']['attempts_per_s']:,.0f} attempts/s,"
            f" hello {f['hello']['req_per_s']:,.0f} req/s,"
            f" sold out in {f['sale']['sell_out_s']:.1f} s, oversold {f['oversold']},"
            f" lost {f['lost_accepted']} ({time.perf_counter() - began:.0f} s; logs {logs})"
        )
        hello_rate = f["hello"]["req_per_s"] or 1.0
        console.print(
            f"    gate / hello {f['sale']['attempts_per_s'] / hello_rate:.2f},"
            f" until sold out {f['sale']['attempts_per_s_until_sold_out'] / hello_rate:.2f};"
            f" answers {f['sale'].get('answers')}"
        )
        figures.append(f)
        rows += rows_of(f)
    return rows, figures


def print_rows(console: Console, rows: list[Row]) -> None:
    table = Table(title="Flash-sale replay")
    for col in ("backend", "setup", "metric", "value", "unit"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for r in rows:
        p = r.params
        label = f"{p['server']} ×{p['apps']}" + (f" +{p['consumers']}c" if p["consumers"] else "")
        label += ", real crowd" if p.get("crowd") == "real" else ""
        table.add_row(r.backend, label, r.metric, f"{r.value:,.2f}", r.unit)
    console.print(table)


async def run(ctx: BenchContext) -> list[Row]:
    """``python -m bench --only flashsale [--full]``."""
    rows, _figures = await run_setups(setups(ctx.full, ctx.backends), Console())
    return rows
