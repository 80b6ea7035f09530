"""The load generator: its own process, aiohttp with connection reuse.

    python -m bench.flashsale.loadgen hello  --url URL --requests N --concurrency C
    python -m bench.flashsale.loadgen replay --url URL --plan plan.json --concurrency C

``replay`` reads a plan (the sale's buy path, the secret, the sale id, the holders' customer
ids, who double-clicks and who retries), mints every holder's sale token *before* the clock
starts (the sale page hands them out during the countdown), then lets ``C`` connections
work through the shuffled holders: each tries once; a double-clicker sends the same token
twice at once; a retrier whose answer was "sold out" or "rate limited" fetches a new token
and tries again after a pause (``--retry-wave`` runs only the retriers, after lapses). It
prints one JSON object: counts per answer, latencies, attempts/s, the time the last unit
was accepted, and the accepted request ids (so the caller can prove none was lost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import aiohttp

from loopmall.flashsale.tokens import issue_token

BUSY = {"flash_busy", "flash_warming_up", "no_answer", "internal_error"}
BUSY_RETRIES = 20


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def hello(url: str, requests: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    left = requests
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(url, connector=connector) as session:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                t0 = time.perf_counter()
                async with session.get("/hello") as r:
                    await r.read()
                    statuses[r.status] += 1
                latencies.append(time.perf_counter() - t0)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {
        "requests": requests,
        "elapsed_s": elapsed,
        "req_per_s": requests / elapsed,
        "p50_ms": _pct(latencies, 50) * 1000,
        "p99_ms": _pct(latencies, 99) * 1000,
        "statuses": {str(k): v for k, v in statuses.items()},
    }


async def replay(
    url: str, plan: dict[str, Any], concurrency: int, retry_wave: bool
) -> dict[str, Any]:
    secret, sale_id, path = plan["secret"], plan["sale_id"], plan["path"]
    customers: list[int] = plan["retriers"] if retry_wave else plan["customers"]
    double = set(plan["double_clickers"])
    retriers = set(plan["retriers"])
    now = datetime.now(UTC)
    # Tokens are fetched from the sale page before the sale opens: minted before the clock.
    tokens = {
        c: issue_token(secret, sale_id=sale_id, customer_id=c, now=now, ttl_seconds=3600)
        for c in customers
    }
    order = list(customers)
    random.Random(plan.get("seed", 1)).shuffle(order)
    latencies: list[float] = []
    finished: list[float] = []  # when each attempt was answered, from the start
    answers: Counter[str] = Counter()
    accepted: list[str] = []
    accepted_by: Counter[int] = Counter()
    last_accept = 0.0
    sold_out_at = 0.0
    attempts = 0
    queue = iter(order)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(url, connector=connector) as session:
        began = time.perf_counter()

        async def attempt(customer: int, token: str) -> str:
            nonlocal last_accept, sold_out_at, attempts
            attempts += 1
            t0 = time.perf_counter()
            try:
                async with session.post(path, json={"token": token}) as r:
                    body = await r.json(content_type=None)
            except (aiohttp.ClientError, ValueError):
                body = {"code": "no_answer"}
            t1 = time.perf_counter()
            latencies.append(t1 - t0)
            finished.append(t1 - began)
            answer = body.get("code") or body.get("status") or str(r.status)
            answers[answer] += 1
            if answer == "accepted":
                accepted.append(body["request"])
                accepted_by[customer] += 1
                last_accept = max(last_accept, t1 - began)
            elif answer == "flash_sold_out" and not sold_out_at:
                sold_out_at = t1 - began
            return answer

        async def holder(customer: int) -> None:
            token = tokens[customer]
            for _ in range(BUSY_RETRIES):
                if customer in double:
                    got = await asyncio.gather(attempt(customer, token), attempt(customer, token))
                    answer = "accepted" if "accepted" in got else got[0]
                else:
                    answer = await attempt(customer, token)
                if answer not in BUSY:
                    break
                # What the sale page does with a 503 (Retry-After) or a dropped connection:
                # wait and try again — with a fresh token, the old one may be spent.
                await asyncio.sleep(0.5)
                token = issue_token(
                    secret, sale_id=sale_id, customer_id=customer, now=datetime.now(UTC)
                )
            if (
                customer in retriers
                and not retry_wave
                and answer in ("flash_sold_out", "flash_rate_limited")
            ):
                await asyncio.sleep(0.05)
                fresh = issue_token(
                    secret,
                    sale_id=sale_id,
                    customer_id=customer,
                    now=datetime.now(UTC),
                    ttl_seconds=3600,
                )
                await attempt(customer, fresh)

        async def worker() -> None:
            for customer in queue:
                await holder(customer)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {
        "holders": len(customers),
        "attempts": attempts,
        "elapsed_s": elapsed,
        "attempts_per_s": attempts / elapsed,
        "p50_ms": _pct(latencies, 50) * 1000,
        "p99_ms": _pct(latencies, 99) * 1000,
        "answers": dict(answers),
        "accepted": len(accepted),
        "sell_out_s": last_accept,
        # The rate while units were left (before the answers turn into "sold out").
        "attempts_per_s_until_sold_out": (
            sum(1 for t in finished if t <= last_accept) / last_accept if last_accept else 0.0
        ),
        "first_sold_out_s": sold_out_at,
        "customers_accepted_twice": sum(1 for n in accepted_by.values() if n > 1),
        "accepted_requests": accepted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.flashsale.loadgen")
    parser.add_argument("mode", choices=["hello", "replay"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--plan")
    parser.add_argument("--retry-wave", action="store_true")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    if args.mode == "hello":
        result = asyncio.run(hello(args.url, args.requests, args.concurrency))
    else:
        with open(args.plan) as f:
            plan = json.load(f)
        result = asyncio.run(replay(args.url, plan, args.concurrency, args.retry_wave))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
