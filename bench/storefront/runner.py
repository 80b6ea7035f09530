"""The storefront crowd benchmark: which servers, the measuring of one, the table, the rows."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.storefront import crowd, wrk
from bench.storefront.server import ROOT, Code, World, serve, settle, world

NAME = "storefront"
WARM_UP = 2  # seconds
MIN_ANSWERS = 4  # per connection: fewer, and the run is made longer
LONGEST = 30.0  # seconds: a run is not made longer than this


@dataclass(frozen=True)
class Sizes:
    seconds: float  # per wrk run
    checkout_seconds: float
    connections: int
    shoppers: int  # signed in per server (cookies, carts)
    checkout_shoppers: int
    holders: int  # per flash sale
    units: int
    grow: int  # more products per category

    @staticmethod
    def of(full: bool) -> Sizes:
        if full:
            return Sizes(10, 30, 64, 64, 32, 100_000, 10_000, 20)
        return Sizes(3, 15, 64, 32, 16, 30_000, 3_000, 0)


async def measure(
    server: Any, w: World, sizes: Sizes, work: Path, console: Console
) -> dict[str, Any]:
    """Every page on ``server``, then the product page under the gate, then checkout."""
    shoppers = await crowd.sign_in(server.base, w.plan, sizes.shoppers)
    results: dict[str, Any] = {}
    live = []
    for page in crowd.pages(w.plan, shoppers):
        reason = await crowd.probe(server.base, page)
        if reason is None:
            live.append(page)
            continue
        results[page.name] = {"skipped": reason}
        console.print(f"    {page.name}: skipped ({reason})", style="dim", markup=False)
    # One short run over a bit of every page first: what a server that has been up a while
    # has (imports done, templates compiled, pools open), for the old code and the new alike.
    warm = [r for p in live for r in p.requests[:10] if r.method == "GET"]
    await wrk.crowd(server.base, warm, work, name="warm-up", seconds=WARM_UP, connections=8)
    healthz_rps = 0.0
    targets = {p.name: p.target for p in live}
    for page in live:
        got = await _page(server.base, page, sizes, work)
        if page.name == "healthz":
            healthz_rps = got["req_per_s"]
        results[page.name] = crowd.judged(page, got, healthz_rps)
        _line(console, page.name, results[page.name])
    tokens = shoppers.tokens[: sizes.checkout_shoppers]
    await crowd.quiet(server.base)
    results["checkout"] = await crowd.checkout(
        server, w.data_dir / "plan.json", tokens, work, seconds=sizes.checkout_seconds
    )
    c = results["checkout"]
    console.print(f"    checkout → paid: {c['orders_per_s']:.1f} orders/s", markup=False)
    sale = w.plan["sales"][server.apps - 1]
    await crowd.quiet(server.base)
    gated = await crowd.under_gate(
        server,
        w.plan,
        sale,
        work,
        seconds=sizes.seconds,
        connections=sizes.connections,
        min_answers=MIN_ANSWERS,
        longest=LONGEST,
    )
    page = crowd.Page("product page under the gate", [], crowd.UNDER_GATE)
    results[page.name] = {**crowd.judged(page, gated["page"], healthz_rps), "gate": gated["gate"]}
    _line(console, page.name, results[page.name])
    targets[page.name] = page.target
    results["healthz_bare_rps"] = crowd.rebased(results, targets)
    results["tracebacks"] = server.tracebacks()
    return results


async def _page(base: str, page: crowd.Page, sizes: Sizes, work: Path) -> dict[str, Any]:
    """One page's wrk run; again for longer when it got too few answers to measure (a page
    slower than the run is long: wrk counts only the answers that came back in time)."""
    seconds = sizes.seconds
    while True:
        await crowd.quiet(base)
        got = await wrk.crowd(
            base,
            page.requests,
            work,
            name=page.name.split(",")[0].replace(" ", "-").replace(":", ""),
            seconds=seconds,
            connections=sizes.connections,
        )
        got["seconds"] = seconds
        if got["requests"] >= MIN_ANSWERS * sizes.connections or seconds >= LONGEST:
            return got
        seconds = min(LONGEST, seconds * 4)


def _line(console: Console, name: str, r: dict[str, Any]) -> None:
    console.print(
        f"    {name}: {r['req_per_s']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f}"
        f" ms, ×{r['ratio']:.3f}, 5xx {r['5xx']}, unexpected {r['unexpected']}",
        style="dim",
        markup=False,
    )


@contextmanager
def worktree(ref: str) -> Iterator[Code]:
    """A detached ``git worktree`` of ``ref`` in a temp dir (removed afterwards)."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="lm-baseline-"))
    path = tmp / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(path), sha],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        yield Code(f"base-{sha}", path / "src")
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, capture_output=True
        )
        shutil.rmtree(tmp, ignore_errors=True)


async def run_codes(
    codes: list[Code], backends: list[str], apps: list[int], sizes: Sizes, console: Console
) -> list[dict[str, Any]]:
    """For each backend, each code: one world, then one server per app count on it."""
    runs: list[dict[str, Any]] = []
    # The servers' logs stay (their folder is printed); the databases go.
    logs = Path(tempfile.mkdtemp(prefix="lm-store-logs-"))
    console.print(f"  logs in {logs}", style="dim", markup=False)
    with tempfile.TemporaryDirectory(prefix="lm-store-") as tmp_name:
        tmp = Path(tmp_name)
        for backend in backends:
            for code in codes:
                console.print(f"  {code.label} on {backend}: building the world …", markup=False)
                async with world(
                    code,
                    backend,
                    tmp,
                    sales=max(apps),
                    holders=sizes.holders,
                    units=sizes.units,
                    grow=sizes.grow,
                ) as w:
                    console.print(
                        f"    world in {w.build_s:.0f} s: {len(w.plan['products'])} products,"
                        f" {len(w.plan['skus'])} SKUs",
                        markup=False,
                    )
                    for n in apps:
                        runs.append(await _one(w, n, sizes, logs, console))
    return runs


async def _one(w: World, apps: int, sizes: Sizes, logs: Path, console: Console) -> dict[str, Any]:
    label = f"{w.code.label}-{w.backend}-x{apps}"
    console.print(f"  {label}: serving …", markup=False)
    work = logs / label
    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    async with serve(w, apps, work) as server:
        settled_s, pending = await settle(w.url)
        console.print(
            f"    outbox settled in {settled_s:.0f} s ({pending} events still pending)",
            style="dim",
            markup=False,
        )
        pages = await measure(server, w, sizes, work, console)
    return {
        "code": w.code.label,
        "backend": "postgres+redis" if w.backend == "postgres" else "sqlite",
        "apps": apps,
        "world_s": w.build_s,
        "products": len(w.plan["products"]),
        "skus": len(w.plan["skus"]),
        "outbox_settle_s": settled_s,
        "outbox_pending_at_start": pending,
        "wall_s": time.perf_counter() - began,
        # The machine is shared: how busy it was (1-minute load average, 2 cores).
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "pages": pages,
    }


def failures(runs: list[dict[str, Any]], *, baseline: bool = False) -> list[str]:
    """Why the run failed: a 5xx, a socket error, a traceback in a server log — of the
    current code, or (``baseline``) what the baseline's servers did (noted, not a failure)."""
    found = []
    for run in runs:
        label = f"{run['code']} {run['backend']} ×{run['apps']}"
        if (run["code"] != "current") != baseline:
            continue
        for name, r in run["pages"].items():
            if not isinstance(r, dict) or "req_per_s" not in r:
                continue
            if r["5xx"] or r["socket_errors"]:
                found.append(f"{label} {name}: {r['5xx']} 5xx, {r['socket_errors']} socket errors")
        checkout = run["pages"]["checkout"]
        for step, s in checkout["steps"].items():
            if s["errors"]:
                found.append(f"{label} checkout {step}: {s['errors']}")
        if run["pages"]["tracebacks"]:
            found.append(f"{label}: {run['pages']['tracebacks']} tracebacks in the server logs")
    return found
