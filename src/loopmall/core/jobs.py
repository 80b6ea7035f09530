"""Periodic background work (hold lapse sweeps, key purges…), run in-process by the app
in the embedded default and by ``loopmall worker`` in production."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from loopmall.config import Settings
from loopmall.core.state import AppState

log = logging.getLogger(__name__)

JobFn = Callable[[AppState], Awaitable[int]]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval: Callable[[Settings], float]
    run: JobFn


_jobs: dict[str, PeriodicJob] = {}


def periodic(name: str, interval: Callable[[Settings], float]) -> Callable[[JobFn], JobFn]:
    """Register ``fn(state) -> count`` to run every ``interval(settings)`` seconds."""

    def register(fn: JobFn) -> JobFn:
        _jobs[name] = PeriodicJob(name, interval, fn)
        return fn

    return register


def registered() -> list[PeriodicJob]:
    return list(_jobs.values())


async def _loop(state: AppState, job: PeriodicJob) -> None:
    while True:
        try:
            await job.run(state)
        except asyncio.CancelledError:
            raise
        except Exception:  # keep the job alive through a transient failure
            log.exception("periodic job %s failed", job.name)
        await asyncio.sleep(job.interval(state.settings))


def start_all(state: AppState) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(_loop(state, job), name=f"job:{job.name}") for job in registered()]
