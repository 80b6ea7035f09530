"""Run the benchmarks, print a table, write JSON to bench/results/.

python -m bench [--full] [--only NAME] [--backend sqlite|postgres|all]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import platform
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.harness import BenchContext, Row, postgres_reachable

HERE = Path(__file__).parent


def discover() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


async def main() -> None:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--full", action="store_true", help="full sizes (slow)")
    parser.add_argument("--only", action="append", default=[], help="run only these (repeat)")
    parser.add_argument("--backend", default="all", choices=["sqlite", "postgres", "all"])
    args = parser.parse_args()

    console = Console()
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    if "postgres" in backends and not await postgres_reachable():
        console.print("[yellow]PostgreSQL unreachable: running SQLite only[/yellow]")
        backends = [b for b in backends if b != "postgres"]
    ctx = BenchContext(full=args.full, backends=backends)

    rows: list[Row] = []
    for name in discover():
        short = name.removeprefix("bench_")
        if args.only and short not in args.only:
            continue
        module = importlib.import_module(f"bench.{name}")
        console.print(f"[bold]running {short}[/bold] ({'full' if args.full else 'small'})")
        started = time.perf_counter()
        rows.extend(await module.run(ctx))
        console.print(f"  done in {time.perf_counter() - started:.1f}s")

    table = Table(title="Loopmall benchmarks")
    for col in ("benchmark", "backend", "metric", "value", "unit", "params"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for r in rows:
        params = ", ".join(f"{k}={v}" for k, v in r.params.items())
        table.add_row(r.benchmark, r.backend, r.metric, f"{r.value:,.2f}", r.unit, params)
    console.print(table)

    out = HERE / "results"
    out.mkdir(exist_ok=True)
    payload = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "size": "full" if args.full else "small",
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "rows": [r.as_dict() for r in rows],
    }
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for target in (out / f"{stamp}.json", out / "latest.json"):
        target.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    console.print(f"wrote {out / 'latest.json'}")


if __name__ == "__main__":
    asyncio.run(main())
