"""How soon lapsed units are back on sale in Redis (issue #21 item 2).

N unpaid flash orders of a Redis sale lapse at the same moment; one sweep
(``flashsale.lapse.lapse_unpaid``) cancels them. Per ticket: from its lapse (the ticket's
``updated_at``, written by the cancel) to its unit back in Redis (``redis_returned_at``,
written right after the push), and from the sweep's start (the moment all N were due) to
the unit back. ``--whole-sweep`` also runs the old way (one push after every cancel, one
cancel at a time) on another world, for comparison; ``--concurrency`` (repeatable) sets how
many cancels run at once.

    .venv/bin/python -m bench.flashsale.lapse [--lapses 10000] [--return-every 50]
        [--whole-sweep] [--concurrency C ...]
    .venv/bin/python -m bench --only flashsale_lapse [--full]     # 2,000 / 10,000 lapses

PostgreSQL (``LOOPMALL_TEST_POSTGRES_URL``) and Redis (``LOOPMALL_BENCH_REDIS_URL``, db 14 of
the local Redis by default; keys under a fresh prefix, removed afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bench.flashsale.replay import REDIS_URL
from bench.flashsale.world import World, build_world
from bench.harness import CONSOLE, BenchContext, Row, median, percentile, postgres_reachable
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale.gate_redis import RedisGate, SaleKeys
from loopmall.flashsale.lapse import CONCURRENT_CANCELS, RETURN_EVERY, lapse_unpaid
from loopmall.flashsale.models import FlashTicket
from loopmall.flashsale.reconcile import load_if_missing, reconcile
from loopmall.flashsale.stream import StreamConsumer

WHOLE_SWEEP = 10**9  # "push after every cancel": the sweep before issue #21


@dataclass
class LapseFigures:
    lapses: int
    return_every: int
    concurrency: int
    sweep_seconds: float
    from_lapse: list[float]  # per ticket: lapse → back in Redis, seconds
    from_due: list[float]  # per ticket: sweep start (all due) → back in Redis, seconds
    redis_left: int | None
    agrees: bool

    def rows(self, name: str = "flashsale_lapse") -> list[Row]:
        params = {
            "lapses": self.lapses,
            "return_every": self.return_every,
            "concurrency": self.concurrency,
        }
        figures = [
            ("sweep", self.sweep_seconds, "s"),
            ("lapse→redis p50", median(self.from_lapse), "s"),
            ("lapse→redis p99", percentile(self.from_lapse, 99), "s"),
            ("lapse→redis max", max(self.from_lapse, default=0.0), "s"),
            ("due→redis p50", median(self.from_due), "s"),
            ("due→redis p99", percentile(self.from_due, 99), "s"),
            ("due→redis max", max(self.from_due, default=0.0), "s"),
            ("units back in redis", float(self.redis_left or 0), "units"),
            ("redis = database", float(self.agrees), "bool"),
        ]
        return [Row(name, "postgres", m, v, u, params) for m, v, u in figures]


async def _sell_everything(state: AppState, world: World) -> None:
    """Every holder buys through the Redis gate, then the consumer makes every order."""
    await load_if_missing(state, world.tenant, world.sale_id)
    gate = RedisGate(state.redis, state.settings.redis_prefix)
    ids = world.customer_ids
    for start in range(0, len(ids), 500):
        answers = await asyncio.gather(
            *(gate.try_buy(world.sale_id, c, uuid.uuid4().hex) for c in ids[start : start + 500])
        )
        assert all(a.accepted for a in answers), {a.status for a in answers}
    consumer = StreamConsumer(state, name="bench-lapse", block_ms=20)
    await consumer.refresh(force=True)
    while await consumer.run_once():
        pass


async def _times(state: AppState, world: World) -> list[tuple[float, float]]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.execute(
            select(FlashTicket.updated_at, FlashTicket.redis_returned_at).where(
                FlashTicket.sale_id == world.sale_id
            )
        )
        return [(lapsed.timestamp(), back.timestamp()) for lapsed, back in rows if back]


async def measure(
    state: AppState, lapses: int, return_every: int, slug: str, concurrency: int | None = None
) -> LapseFigures:
    """Sell ``lapses`` units, let every order lapse at once, and time one sweep."""
    world = await build_world(state, holders=lapses, stock=lapses, pay_within_seconds=60, slug=slug)
    CONSOLE.print(f"  a Redis sale of {lapses:,} units: selling them, then lapsing", style="dim")
    await _sell_everything(state, world)
    due_at = time.time()  # every order is due from here (the sweep's now is past them all)
    started = time.perf_counter()
    lapsed = await lapse_unpaid(
        state,
        now=clock.now() + timedelta(minutes=2),
        return_every=return_every,
        concurrency=concurrency,
    )
    sweep = time.perf_counter() - started
    assert lapsed == lapses, (lapsed, lapses)
    times = await _times(state, world)
    async with UnitOfWork(state.read_factory) as uow:
        report = await reconcile(
            uow.session, world.tenant, world.sale_id, state.redis, state.settings.redis_prefix
        )
    left = await state.redis.get(SaleKeys(state.settings.redis_prefix, world.sale_id).stock)
    return LapseFigures(
        lapses=lapses,
        return_every=return_every,
        concurrency=concurrency or CONCURRENT_CANCELS,
        sweep_seconds=sweep,
        from_lapse=[back - lapsed_at for lapsed_at, back in times],
        from_due=[back - due_at for _lapsed_at, back in times],
        redis_left=int(left) if left is not None else None,
        agrees=report.ok,
    )


async def _run(
    ctx: BenchContext, lapses: int, runs: list[tuple[int, int | None]]
) -> list[LapseFigures]:
    """One world and one sweep per (return_every, concurrency) of ``runs``."""
    async with ctx.fresh_state("postgres") as plain:
        settings = plain.settings.model_copy(
            update={"redis_url": REDIS_URL, "redis_prefix": f"lmbench:{uuid.uuid4().hex[:8]}:"}
        )
        state = AppState.build(settings)
        try:
            return [
                await measure(state, lapses, every, f"mi{i}", concurrency)
                for i, (every, concurrency) in enumerate(runs)
            ]
        finally:
            prefix = f"{settings.redis_prefix}*"
            keys: list[Any] = [k async for k in state.redis.scan_iter(match=prefix)]
            if keys:
                await state.redis.delete(*keys)
            await state.close()


async def run(ctx: BenchContext) -> list[Row]:
    if "postgres" not in ctx.backends:
        CONSOLE.print("  flashsale_lapse runs on PostgreSQL + Redis only: skipped")
        return []
    figures = await _run(ctx, ctx.size(2_000, 10_000), [(RETURN_EVERY, None)])
    return [row for f in figures for row in f.rows()]


def _print(f: LapseFigures) -> None:
    how = "whole sweep, then push" if f.return_every == WHOLE_SWEEP else f"every {f.return_every}"
    CONSOLE.print(
        f"{f.lapses:,} lapses, {f.concurrency} at once, push {how}: "
        f"sweep {f.sweep_seconds:.1f} s; lapse→redis "
        f"p50 {median(f.from_lapse):.3f} s, p99 {percentile(f.from_lapse, 99):.3f} s, "
        f"max {max(f.from_lapse, default=0):.3f} s; due→redis p50 {median(f.from_due):.1f} s, "
        f"p99 {percentile(f.from_due, 99):.1f} s, max {max(f.from_due, default=0):.1f} s; "
        f"units back {f.redis_left}; Redis = database: {f.agrees}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.flashsale.lapse")
    parser.add_argument("--lapses", type=int, default=10_000)
    parser.add_argument("--return-every", type=int, default=RETURN_EVERY)
    parser.add_argument("--whole-sweep", action="store_true", help="also the old way")
    parser.add_argument(
        "--concurrency", type=int, action="append", help="cancels at once (repeat to compare)"
    )
    args = parser.parse_args()
    levels: list[int | None] = list(args.concurrency or [None])
    runs = [(args.return_every, c) for c in levels]
    if args.whole_sweep:
        runs.append((WHOLE_SWEEP, 1))
    if not await postgres_reachable():
        raise SystemExit("PostgreSQL unreachable")
    ctx = BenchContext(full=True, backends=["postgres"])
    for figures in await _run(ctx, args.lapses, runs):
        _print(figures)


if __name__ == "__main__":
    asyncio.run(main())
