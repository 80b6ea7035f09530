"""Driving Debian's ``wrk`` with ``crowd.lua`` (a rotating list of requests) and, for the
gate under load, with the flash-sale replay's ``wrk_gate.lua``.

wrk sends a request for a few microseconds of CPU, so on a 2-core machine the figures are the
server's, not the load generator's (see ``bench/flashsale/wrk.py``).
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.flashsale.wrk import GATE_SCRIPT

HERE = Path(__file__).resolve().parent
CROWD_SCRIPT = HERE / "crowd.lua"
TIMEOUT = "10s"


@dataclass(frozen=True)
class Request:
    """One request of a crowd's rotation."""

    path: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""

    def line(self) -> str:
        """The request as ``crowd.lua`` reads it (tab-separated; no tab, newline or "|" in a
        field: they separate the fields and the headers)."""
        parts = [self.method, self.path, *self.headers, *self.headers.values(), self.body]
        if any(c in part for part in parts for c in "\t\n\r|"):
            raise ValueError(f"a request field holds a tab, a newline or a '|': {self!r}")
        headers = "|".join(f"{k}: {v}" for k, v in self.headers.items()) or "-"
        return "\t".join((self.method, self.path, headers, self.body or "-"))


def write_rotation(requests: list[Request], target: Path) -> Path:
    if not requests:
        raise ValueError("a crowd needs at least one request")
    target.write_text("".join(r.line() + "\n" for r in requests))
    return target


def _args(
    script: Path, url: str, connections: int, seconds: float, threads: int, *script_args: str
) -> list[str]:
    """wrk's command line: ``threads`` threads, ``connections`` connections, ``seconds``."""
    return [
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        TIMEOUT,
        "-s",
        str(script),
        url,
        "--",
        *script_args,
    ]


async def _wrk(args: list[str], *, stop_after: asyncio.Event | None = None) -> dict[str, Any]:
    """Run wrk; its script's JSON (the last line it prints). With ``stop_after``, wrk is
    ended (SIGINT, it then prints its figures) once the event is set."""
    proc = await asyncio.create_subprocess_exec(
        "wrk", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        if stop_after is not None:
            waiting = asyncio.create_task(stop_after.wait())
            ended = asyncio.create_task(proc.wait())
            await asyncio.wait({waiting, ended}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
        out, err = await proc.communicate()
    except BaseException:
        with suppress(ProcessLookupError):
            proc.kill()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.decode()[-2000:]}")
    lines = out.decode().strip().splitlines()
    if not lines:
        raise RuntimeError(f"wrk printed nothing: {err.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def figures(got: dict[str, Any]) -> dict[str, Any]:
    """req/s, latencies in ms and the answers by class from ``crowd.lua``'s JSON."""
    elapsed = got["duration_us"] / 1e6
    statuses = {int(k): int(v) for k, v in got["statuses"].items()}
    by_class = {
        f"{c}xx": sum(n for s, n in statuses.items() if s // 100 == c) for c in (2, 3, 4, 5)
    }
    errors = got["errors"]
    return {
        "requests": got["requests"],
        "elapsed_s": elapsed,
        "req_per_s": got["requests"] / elapsed if elapsed else 0.0,
        "p50_ms": got["p50_us"] / 1000,
        "p90_ms": got["p90_us"] / 1000,
        "p99_ms": got["p99_us"] / 1000,
        "max_ms": got["max_us"] / 1000,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        **by_class,
        # Sockets that failed or timed out: no status to count, but a failure all the same.
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
    }


async def crowd(
    url: str,
    requests: list[Request],
    work_dir: Path,
    *,
    name: str,
    seconds: float,
    connections: int,
    threads: int = 1,
) -> dict[str, Any]:
    """``connections`` connections sending ``requests`` in turn for ``seconds``."""
    rotation = write_rotation(requests, work_dir / f"crowd-{name}.tsv")
    got = await _wrk(_args(CROWD_SCRIPT, url, connections, seconds, threads, str(rotation)))
    return figures(got)


async def gate(
    url: str, path: str, bodies: list[str], work_dir: Path, *, connections: int, stop: asyncio.Event
) -> dict[str, Any]:
    """The flash-sale attempts ``bodies`` (``bench.flashsale.wrk.lay_out``) until ``stop``
    is set (or they are all answered): attempts/s, p50/p99 and the answers by code."""
    prefix = work_dir / "gate-bodies"
    (work_dir / "gate-bodies.0").write_text("\n".join(bodies) + "\n")
    (work_dir / "gate-bodies.done.0").unlink(missing_ok=True)
    # Until stopped: wrk's own limit is only there to end a run whose caller died.
    args = _args(GATE_SCRIPT, url, connections, 600, 1, path, str(prefix))
    got = await _wrk(args, stop_after=stop)
    elapsed = got["elapsed_s"]
    return {
        "attempts": got["answered"],
        "elapsed_s": elapsed,
        "attempts_per_s": got["answered"] / elapsed if elapsed else 0.0,
        "p50_ms": got["p50_us"] / 1000,
        "p99_ms": got["p99_us"] / 1000,
        "answers": got["answers"],
        "all_answered": got["answered"] >= got["bodies"],
    }
