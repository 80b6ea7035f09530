"""The load generator in C: Debian's ``wrk`` with a Lua script (``wrk_gate.lua``).

The aiohttp generator (``loadgen.py``) costs about as much CPU per request as the server it
measures, and on 2 cores it takes that CPU from the server. ``wrk`` sends a request for a few
microseconds of CPU, so the figures are the server's. What the Lua script cannot do is react
to an answer per holder (wrk does not say which request an answer belongs to), so the plan is
laid out before the clock starts, as a list of bodies in the order they are sent:

- every holder once, in a shuffled order, with a token minted before the clock (the sale page
  hands them out during the countdown);
- a double-clicker's token twice in a row (the two go out at once on two connections);
- a retrier's second attempt with a fresh token some way further on (a few round trips later):
  after "sold out" it is the retry the page offers, after "accepted" it is told
  ``flash_already_bought``;
- in the real crowd (issue #21), each line also names the shopper's address (four shoppers to
  an address, sent as X-Forwarded-For, which uvicorn takes from 127.0.0.1), and the crowd adds
  shoppers who never reserved (signed tokens of their own), forged tokens (a changed
  signature), expired tokens and a token replayed a while after its first use.

Latencies come from wrk's histogram; the run's times (start, last answer, last "accepted", first
"sold out") from the script, on CLOCK_MONOTONIC through LuaJIT's ffi.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import random
import shutil
import signal
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from loopmall.flashsale.tokens import issue_token

HERE = Path(__file__).resolve().parent
GATE_SCRIPT = HERE / "wrk_gate.lua"
HELLO_SCRIPT = HERE / "wrk_hello.lua"
TIMEOUT = "60s"  # latencies above wrk's timeout leave its histogram: keep the slow ones in


def available() -> bool:
    return shutil.which("wrk") is not None


async def _run(args: list[str], *, done_files: list[Path] | None = None) -> dict[str, Any]:
    """Run wrk; with ``done_files``, end it (SIGINT) once every thread has written its file:
    wrk's own clock runs for ``-d`` whatever its threads do."""
    proc = await asyncio.create_subprocess_exec(
        "wrk", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        if done_files:
            while proc.returncode is None and not all(f.exists() for f in done_files):
                with suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 0.02)
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
        out, err = await proc.communicate()
    except BaseException:
        with suppress(ProcessLookupError):
            proc.kill()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.decode()[-2000:]}")
    # wrk prints its own summary first; the script's JSON is the last line.
    last = out.decode().strip().splitlines()[-1]
    result: dict[str, Any] = json.loads(last)
    return result


async def hello(url: str, seconds: int, connections: int, threads: int = 1) -> dict[str, Any]:
    got = await _run(
        [
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            TIMEOUT,
            "-s",
            str(HELLO_SCRIPT),
            f"{url}/hello",
        ]
    )
    elapsed = got["duration_us"] / 1e6
    return {
        "generator": "wrk",
        "requests": got["requests"],
        "elapsed_s": elapsed,
        "req_per_s": got["requests"] / elapsed,
        "p50_ms": got["p50_us"] / 1000,
        "p99_ms": got["p99_us"] / 1000,
        "errors": got["errors"],
    }


def _shopper_ip(customer: int) -> str:
    """The address a shopper comes from in the real crowd: four shoppers behind each
    (a household's or an office's NAT), sent as X-Forwarded-For."""
    n = customer // 4
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _forged(token: str) -> str:
    """The token with its signature's last character changed: well formed, not ours."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def lay_out(
    plan: dict[str, Any], *, connections: int, retry_wave: bool, seed: int = 1
) -> list[str]:
    """The lines in the order they are sent (see the module's docstring): a token, and in
    the real crowd (``plan["crowd"]``) a tab and the shopper's address."""
    secret, sale_id = plan["secret"], plan["sale_id"]
    crowd: dict[str, Any] = plan.get("crowd") or {}
    customers: list[int] = plan["retriers"] if retry_wave else plan["customers"]
    double = set(plan["double_clickers"])
    retriers = set() if retry_wave else set(plan["retriers"])
    now = datetime.now(UTC)
    rng = random.Random(seed)
    order = list(customers)
    if crowd and not retry_wave:
        order += crowd["strangers"]  # signed tokens of shoppers who never reserved
    rng.shuffle(order)

    def token(customer: int, when: datetime = now, ttl: int = 3600) -> str:
        return issue_token(secret, sale_id=sale_id, customer_id=customer, now=when, ttl_seconds=ttl)

    def line(customer: int, text: str) -> str:
        return f"{text}\t{_shopper_ip(customer)}" if crowd else text

    bodies: list[str] = []
    later: list[tuple[int, str]] = []  # (position, retry's line), soonest first
    for customer in order:
        while later and later[0][0] <= len(bodies):
            bodies.append(heapq.heappop(later)[1])
        first = token(customer)
        bodies.append(line(customer, first))
        if customer in double:
            bodies.append(line(customer, first))
        if customer in retriers:
            # Jittered: the retry lands anywhere from 2 to 6 rounds of the connections on.
            at = len(bodies) + rng.randint(2 * connections, 6 * connections)
            heapq.heappush(later, (at, line(customer, token(customer))))
        if crowd and not retry_wave:
            _hostile(crowd, customer, first, rng, bodies, later, line, token)
    bodies.extend(t for _at, t in sorted(later))
    return bodies


def _hostile(
    crowd: dict[str, Any],
    customer: int,
    first: str,
    rng: random.Random,
    bodies: list[str],
    later: list[tuple[int, str]],
    line: Any,
    token: Any,
) -> None:
    """The real crowd's extra lines after a shopper's first attempt: a forged token, an
    expired one (kept from an earlier sale page), the same token replayed a while later."""
    if rng.random() < crowd["forged_share"]:
        bodies.append(line(customer, _forged(first)))
    if rng.random() < crowd["expired_share"]:
        bodies.append(line(customer, token(customer, datetime.now(UTC) - timedelta(hours=2), 60)))
    if rng.random() < crowd["replayed_share"]:
        heapq.heappush(later, (len(bodies) + rng.randint(1, 500), line(customer, first)))


async def replay(
    url: str,
    path: str,
    bodies: list[str],
    work_dir: Path,
    *,
    holders: int,
    connections: int,
    threads: int = 1,
    limit_seconds: int | None = None,
) -> dict[str, Any]:
    """Send ``bodies`` through wrk; the figures in the load generator's shape."""
    # A thread stops when all its bodies are answered; the limit only ends a run in which an
    # answer was lost (a dropped connection), which the figures then show as "unanswered".
    limit_seconds = limit_seconds or 120 + len(bodies) // 200
    prefix = work_dir / "wrk-bodies"
    done_files = [work_dir / f"wrk-bodies.done.{k}" for k in range(threads)]
    for k in range(threads):
        (work_dir / f"wrk-bodies.{k}").write_text("\n".join(bodies[k::threads]) + "\n")
        done_files[k].unlink(missing_ok=True)
    got = await _run(
        [
            f"-t{threads}",
            f"-c{min(connections, max(threads, len(bodies)))}",
            f"-d{limit_seconds}s",
            "--timeout",
            TIMEOUT,
            "-s",
            str(GATE_SCRIPT),
            url,
            "--",
            path,
            str(prefix),
        ],
        done_files=done_files,
    )
    elapsed = got["elapsed_s"]
    accepted: list[str] = got["accepted_requests"]
    by_customer: dict[str, int] = {}
    for r in accepted:
        customer = r.rsplit("-", 1)[1]
        by_customer[customer] = by_customer.get(customer, 0) + 1
    return {
        "generator": "wrk",
        "holders": holders,
        "bodies": got["bodies"],
        "attempts": got["answered"],
        "unanswered": got["bodies"] - got["answered"],
        "elapsed_s": elapsed,
        "attempts_per_s": got["answered"] / elapsed if elapsed else 0.0,
        "p50_ms": got["p50_us"] / 1000,
        "p99_ms": got["p99_us"] / 1000,
        "answers": got["answers"],
        "errors": got["errors"],
        "accepted": len(accepted),
        "sell_out_s": got["last_accept_s"],
        # The rate while units were left (before the answers turn into "sold out").
        "attempts_per_s_until_sold_out": (
            got["answered_until_last_accept"] / got["last_accept_s"]
            if got["last_accept_s"]
            else 0.0
        ),
        "first_sold_out_s": got["first_sold_out_s"],
        "customers_accepted_twice": sum(1 for n in by_customer.values() if n > 1),
        "accepted_requests": accepted,
    }
