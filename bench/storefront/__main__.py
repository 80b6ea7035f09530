"""python -m bench.storefront [--full] [--backend sqlite|postgres|all] [--apps N ...]
    [--baseline REF] [--seconds S] [--markdown FILE]

The crowd on the storefront (see README.md): every page's req/s, p50/p99 and ratio to the same
server's ``/healthz``, the product page under the flash-sale gate, checkout → paid orders/s.
With ``--baseline REF`` the same on a worktree of REF, in the same run, side by side. Writes
bench/results/storefront-<backend>-latest.json; exits 1 when a run saw a 5xx, a socket error,
a failed checkout step or a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from bench.flashsale import wrk as flash_wrk
from bench.harness import postgres_reachable
from bench.storefront.report import markdown, print_tables, write_results
from bench.storefront.runner import Sizes, failures, run_codes, worktree
from bench.storefront.server import Code


async def main_async(args: argparse.Namespace, console: Console) -> int:
    if not flash_wrk.available():
        console.print("[red]wrk is missing: `make loadgen` installs it[/red]")
        return 2
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    if "postgres" in backends and not await postgres_reachable():
        console.print("[yellow]PostgreSQL unreachable: SQLite only[/yellow]")
        backends.remove("postgres")
    sizes = Sizes.of(args.full)
    if args.seconds:
        sizes = replace(sizes, seconds=args.seconds)
    with ExitStack() as stack:
        codes = [Code("current")]
        if args.baseline:
            codes.append(stack.enter_context(worktree(args.baseline)))
        runs = await run_codes(codes, backends, args.apps or [1, 2], sizes, console)
    print_tables(console, runs)
    for path in write_results(runs, sizes.__dict__, args.baseline):
        console.print(f"wrote {path}", markup=False)
    if args.markdown:
        Path(args.markdown).write_text(markdown(runs))
    for line in failures(runs, baseline=True):
        console.print(f"[yellow]baseline:[/yellow] {line}")
    failed = failures(runs)
    for line in failed:
        console.print(f"[red]failure:[/red] {line}")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.storefront")
    parser.add_argument("--full", action="store_true", help="10 s runs, a grown world")
    parser.add_argument("--backend", default="all", choices=["sqlite", "postgres", "all"])
    parser.add_argument("--apps", type=int, action="append", help="app processes (repeat)")
    parser.add_argument("--baseline", help="a git ref measured in the same run (e.g. 98d5c9f)")
    parser.add_argument("--seconds", type=float, help="seconds per wrk run")
    parser.add_argument("--markdown", help="also write the tables as Markdown to this file")
    console = Console(width=200)
    sys.exit(asyncio.run(main_async(parser.parse_args(), console)))


if __name__ == "__main__":
    main()
