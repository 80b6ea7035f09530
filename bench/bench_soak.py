"""The soak (``bench/soak/``): ``python -m bench --only soak [--full]`` — mixed traffic at a
fixed rate on PostgreSQL + Redis for 60 s (10 minutes with ``--full``)."""

from __future__ import annotations

from bench.harness import BenchContext, Row
from bench.soak.report import wide_console
from bench.soak.run import run_soak


async def run(ctx: BenchContext) -> list[Row]:
    if "postgres" not in ctx.backends:
        wide_console().print("[yellow]soak skipped: it runs on PostgreSQL + Redis only[/yellow]")
        return []
    return await run_soak(wide_console(), full=ctx.full)
