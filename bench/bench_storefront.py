"""The storefront crowd (``bench/storefront/``): ``python -m bench --only storefront [--full]``
— every page's req/s, p50/p99 and ratio to ``/healthz``, the product page under the flash-sale
gate, checkout → paid orders/s; on each backend with 1 and 2 app processes. The before/after
comparison (``--baseline REF``) is ``python -m bench.storefront``'s."""

from __future__ import annotations

from rich.console import Console

from bench.harness import BenchContext, Row
from bench.storefront.report import print_tables, rows_of, write_results
from bench.storefront.runner import Sizes, run_codes
from bench.storefront.server import Code


async def run(ctx: BenchContext) -> list[Row]:
    console = Console(width=200)
    sizes = Sizes.of(ctx.full)
    runs = await run_codes([Code("current")], ctx.backends, [1, 2], sizes, console)
    print_tables(console, runs)
    write_results(runs, sizes.__dict__, None)
    return rows_of(runs)
