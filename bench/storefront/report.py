"""The storefront figures as tables (the terminal, and Markdown for the README) and as
benchmark rows: one table per backend and app count, the codes side by side."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.harness import Row
from bench.storefront.checkout import STEPS

NAME = "storefront"
RESULTS = Path(__file__).resolve().parents[1] / "results"


def _groups(runs: list[dict[str, Any]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        groups[(run["backend"], run["apps"])].append(run)
    return groups


def _cell(r: Any) -> str:
    if not isinstance(r, dict):
        return ""
    if "skipped" in r:
        return "skipped"
    met = {True: " ✓", False: " ✗", None: ""}[r["target_met"]]
    bad = f", {r['unexpected']} unexpected" if r["unexpected"] else ""
    bad += f", {r['5xx']} 5xx" if r["5xx"] else ""
    return (
        f"{r['req_per_s']:,.0f}/s ×{r['ratio']:.3f} p50 {r['p50_ms']:.1f} p99 {r['p99_ms']:.1f}"
        f"{met}{bad}"
    )


def _checkout_cells(run: dict[str, Any]) -> list[tuple[str, str]]:
    c = run["pages"]["checkout"]
    cells = [("checkout → paid", f"{c['orders_per_s']:.1f} orders/s ({c['paid_orders']} paid)")]
    for step in STEPS:
        s = c["steps"][step]
        errors = f", errors {s['errors']}" if s["errors"] else ""
        cells.append((f"  {step}", f"p50 {s['p50_ms']:.1f} p99 {s['p99_ms']:.1f}{errors}"))
    return cells


def _load(run: dict[str, Any]) -> str:
    if "load_before" not in run:
        return ""
    return f"{run['load_before']:.1f} → {run['load_after']:.1f}"


def grid(runs: list[dict[str, Any]]) -> list[tuple[str, list[str], list[list[str]]]]:
    """Per (backend, apps): a title, the header, the rows (page, target, one cell per code)."""
    out = []
    for (backend, apps), group in _groups(runs).items():
        header = ["page", "target", *(r["code"] for r in group)]
        first = group[0]["pages"]
        rows = []
        for name, r in first.items():
            if name in ("checkout", "tracebacks", "healthz_bare_rps"):
                continue
            target = r.get("target", "") if isinstance(r, dict) else ""
            rows.append([name, target, *(_cell(g["pages"].get(name)) for g in group)])
        checkout = [_checkout_cells(g) for g in group]
        for i, (label, _cell0) in enumerate(checkout[0]):
            rows.append([label, "", *(c[i][1] for c in checkout)])
        rows.append(["machine load (1 min, 2 cores)", "", *(_load(g) for g in group)])
        out.append((f"{backend}, {apps} app process(es)", header, rows))
    return out


def print_tables(console: Console, runs: list[dict[str, Any]]) -> None:
    for title, header, rows in grid(runs):
        table = Table(title=f"Storefront crowd — {title}")
        for col in header:
            table.add_column(col)
        for row in rows:
            table.add_row(*row)
        console.print(table)


def markdown(runs: list[dict[str, Any]]) -> str:
    parts = []
    for title, header, rows in grid(runs):
        parts.append(f"**{title}**\n")
        parts.append("| " + " | ".join(header) + " |")
        parts.append("|" + "---|" * len(header))
        parts.extend("| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows)
        parts.append("")
    return "\n".join(parts)


def rows_of(runs: list[dict[str, Any]]) -> list[Row]:
    """Benchmark rows: per page req/s, ×healthz, p50, p99; orders/s."""
    rows: list[Row] = []
    for run in runs:
        params = {"code": run["code"], "apps": run["apps"], "connections": 64}
        for name, r in run["pages"].items():
            if not isinstance(r, dict) or "req_per_s" not in r:
                continue
            for metric, value, unit in (
                ("req/s", r["req_per_s"], "1/s"),
                ("÷ healthz", r["ratio"], "ratio"),
                ("p50", r["p50_ms"], "ms"),
                ("p99", r["p99_ms"], "ms"),
            ):
                rows.append(Row(NAME, run["backend"], f"{name} {metric}", value, unit, params))
        c = run["pages"]["checkout"]
        rows.append(Row(NAME, run["backend"], "checkout → paid", c["orders_per_s"], "1/s", params))
    return rows


def write_results(
    runs: list[dict[str, Any]], sizes: dict[str, Any], baseline: str | None
) -> list[Path]:
    """bench/results/storefront-<backend>-latest.json: every figure of every run."""
    RESULTS.mkdir(exist_ok=True)
    written = []
    for backend in sorted({r["backend"] for r in runs}):
        target = RESULTS / f"storefront-{backend.split('+')[0]}-latest.json"
        payload = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "sizes": sizes,
            "baseline": baseline,
            "runs": [r for r in runs if r["backend"] == backend],
        }
        target.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
        written.append(target)
    return written
