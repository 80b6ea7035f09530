"""What the soak samples every few seconds beside the traffic: the app's and the worker's
resident memory (from /proc), the outbox's backlog (pending events, the age of the oldest,
dead events) read from the database, and the machine's load."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select

from loopmall.core import clock
from loopmall.core.models import OutboxEvent
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its children (a multi-worker server), in MiB."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except FileNotFoundError:
            continue
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except FileNotFoundError:
        return []


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and its children that still run."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / tick


@dataclass
class Sample:
    at: float  # time.monotonic() (the same clock as the load generator's)
    app_mib: float
    worker_mib: float
    pending: int
    oldest_s: float
    dead: int
    load1: float
    app_cpu_s: float = 0.0
    worker_cpu_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def outbox_backlog(state: AppState) -> tuple[int, float, int]:
    """Pending events, the age in seconds of the oldest pending one, dead events."""
    async with UnitOfWork(state.read_factory) as uow:
        s = uow.session
        pending, oldest = (
            await s.execute(
                select(func.count(), func.min(OutboxEvent.created_at)).where(
                    OutboxEvent.status == "pending"
                )
            )
        ).one()
        dead = await s.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.status == "dead")
        )
    age = (clock.now() - oldest).total_seconds() if oldest is not None else 0.0
    return int(pending), max(0.0, age), int(dead or 0)


async def sample(state: AppState, app_pid: int, worker_pid: int) -> Sample:
    pending, oldest, dead = await outbox_backlog(state)
    return Sample(
        at=time.monotonic(),
        app_mib=rss_mib(app_pid),
        worker_mib=rss_mib(worker_pid),
        pending=pending,
        oldest_s=oldest,
        dead=dead,
        load1=os.getloadavg()[0],
        app_cpu_s=cpu_seconds(app_pid),
        worker_cpu_s=cpu_seconds(worker_pid),
    )
