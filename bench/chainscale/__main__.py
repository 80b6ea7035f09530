"""``python -m bench.chainscale [--full | --scale N] [--backend sqlite|postgres|all]
[--requests N] [--only REGEX] [--probe-seconds S] [--keep | --reuse URL]``.

Writes ``bench/results/chainscale-<backend>-latest.json`` (every route's figures, the
skipped routes and why, the load times, the other-tenant probe).
"""

from __future__ import annotations

import argparse
import asyncio

from bench.chainscale.runner import print_report, run_backend
from bench.chainscale.world import Size
from bench.harness import postgres_reachable


async def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.chainscale")
    parser.add_argument("--full", action="store_true", help="1,800 stores … 1 M orders")
    parser.add_argument("--scale", type=int, help="1/N of the full size (small: 50)")
    parser.add_argument("--backend", default="all", choices=["sqlite", "postgres", "all"])
    parser.add_argument("--requests", type=int, default=48, help="timed requests per route")
    parser.add_argument("--only", help="time only the routes matching this regex")
    parser.add_argument("--probe-seconds", type=float, default=15.0)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--reuse", metavar="URL", help="time a world a --keep run left")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    if "postgres" in backends and not await postgres_reachable():
        print("PostgreSQL unreachable: SQLite only")
        backends = [b for b in backends if b != "postgres"]
    size = Size.of(args.full, args.scale)
    for backend in backends:
        report = await run_backend(
            backend,
            size,
            requests=args.requests,
            probe_seconds=args.probe_seconds,
            only=args.only,
            keep=args.keep,
            reuse=args.reuse,
        )
        print_report(report)


if __name__ == "__main__":
    asyncio.run(main())
