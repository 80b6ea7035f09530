"""python -m bench.soak [--full] [--seconds N] [--rate R] — one soak, its tables, and JSON in
bench/results/soak-latest.json (with every sample and window)."""

from __future__ import annotations

import argparse
import asyncio

from bench.soak.report import wide_console
from bench.soak.run import run_soak


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.soak")
    parser.add_argument("--full", action="store_true", help="10 minutes (default: 60 s)")
    parser.add_argument("--seconds", type=float, help="override the duration")
    parser.add_argument("--rate", type=float, help="override the journeys a second")
    parser.add_argument(
        "--tracemalloc",
        choices=["app", "worker", "both"],
        help="trace these processes' allocations; print what grew after warm-up (slower)",
    )
    args = parser.parse_args()
    asyncio.run(
        run_soak(
            wide_console(),
            full=args.full,
            seconds=args.seconds,
            rate=args.rate,
            tracemalloc=args.tracemalloc,
        )
    )


if __name__ == "__main__":
    main()
