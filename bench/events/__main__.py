"""python -m bench.events [--full] [--backend sqlite|postgres|all]

The runs ``python -m bench --only events`` makes, on their own (table printed, JSON in
bench/results/events-latest.json)."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from rich.table import Table

from bench.events.runner import ROOT, run
from bench.harness import CONSOLE, BenchContext, postgres_reachable


async def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.events")
    parser.add_argument("--full", action="store_true", help="20,000-event bursts")
    parser.add_argument("--backend", default="all", choices=["sqlite", "postgres", "all"])
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    if "postgres" in backends and not await postgres_reachable():
        CONSOLE.print("[yellow]PostgreSQL unreachable: SQLite only[/yellow]")
        backends = ["sqlite"]
    rows = await run(BenchContext(full=args.full, backends=backends))
    table = Table(title="Events end to end")
    for col in ("setup", "metric", "value", "unit", "params"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for r in rows:
        params = ", ".join(f"{k}={v}" for k, v in r.params.items())
        table.add_row(r.backend, r.metric, f"{r.value:,.1f}", r.unit, params)
    CONSOLE.print(table)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    payload = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "size": "full" if args.full else "small",
        "rows": [r.as_dict() for r in rows],
    }
    (out / "events-latest.json").write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
