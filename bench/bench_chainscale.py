"""The chain-scale world and its routes (``bench/chainscale/``):
``python -m bench --only chainscale [--full]``."""

from __future__ import annotations

from bench.chainscale.runner import print_report, rows_of, run_backend
from bench.chainscale.world import Size
from bench.harness import BenchContext, Row


async def run(ctx: BenchContext) -> list[Row]:
    rows: list[Row] = []
    size = Size.of(ctx.full)
    for backend in ctx.backends:
        report = await run_backend(
            backend, size, requests=32 if ctx.full else 48, probe_seconds=15.0
        )
        print_report(report, top=20)
        rows += rows_of(report)
    return rows
