"""python -m bench.flashsale [--full] [--backend sqlite|postgres|all] [--only-setup N ...]

The same replays ``python -m bench --only flashsale`` runs, on their own (table + JSON in
bench/results/flashsale-latest.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import replace

from rich.console import Console

from bench.flashsale.runner import HERE, print_rows, run_setups, setups


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.flashsale")
    parser.add_argument("--full", action="store_true", help="1,938,000 holders / 150,000 units")
    parser.add_argument("--backend", default="all", choices=["sqlite", "postgres", "all"])
    parser.add_argument("--holders", type=int, help="override the holders")
    parser.add_argument("--stock", type=int, help="override the units")
    parser.add_argument("--setup", action="append", default=[], help="only these (0-based)")
    parser.add_argument(
        "--loadgen",
        choices=["wrk", "aiohttp"],
        help="load generator (default: wrk when installed, else aiohttp)",
    )
    parser.add_argument(
        "--consumer-nice",
        type=int,
        help="the consumers' os.nice (default 10: the gate first; 0: the same priority)",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the server (speedscope)")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    chosen = setups(
        args.full, backends, holders=args.holders, stock=args.stock, loadgen=args.loadgen
    )
    if args.consumer_nice is not None:
        chosen = [replace(s, consumer_nice=args.consumer_nice) for s in chosen]
    if args.setup:
        chosen = [s for i, s in enumerate(chosen) if str(i) in args.setup]
    if args.profile:
        out = HERE.parent / "results"
        out.mkdir(exist_ok=True)
        chosen = [
            replace(s, profile=out / f"flashsale-profile-{i}-{s.backend}-{s.server}-{s.apps}.json")
            for i, s in enumerate(chosen)
        ]
    console = Console()
    rows, figures = asyncio.run(run_setups(chosen, console))
    print_rows(console, rows)
    out = HERE.parent / "results"
    out.mkdir(exist_ok=True)
    payload = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "replays": figures}
    (out / "flashsale-latest.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    console.print(f"wrote {out / 'flashsale-latest.json'}")


if __name__ == "__main__":
    main()
