"""The soak's figures: a summary (errors, RSS slope, outbox lag start vs end, p50/p99 per step),
printed as tables and RSS sparklines, and as benchmark rows."""

from __future__ import annotations

import statistics
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.harness import Row

NAME = "soak"
BACKEND = "postgres+redis"
BARS = "▁▂▃▄▅▆▇█"


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) points, in MiB a minute."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    if den == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den * 60


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0
    return "".join(BARS[min(len(BARS) - 1, int((v - lo) / span * len(BARS)))] for v in values)


def _cpu_share(a: dict[str, Any] | None, b: dict[str, Any]) -> dict[str, float]:
    """The app's and the worker's CPU between two samples, in % of one core."""
    if a is None or b["at"] <= a["at"]:
        return {"app_cpu": 0.0, "worker_cpu": 0.0}
    span = b["at"] - a["at"]
    return {
        "app_cpu": 100 * (b.get("app_cpu_s", 0.0) - a.get("app_cpu_s", 0.0)) / span,
        "worker_cpu": 100 * (b.get("worker_cpu_s", 0.0) - a.get("worker_cpu_s", 0.0)) / span,
    }


def summarize(f: dict[str, Any]) -> dict[str, Any]:
    seconds, start = f["seconds"], f["start"]
    samples = [{**s, "t": s["at"] - start} for s in f["samples"]]
    during = [s for s in samples if 0 <= s["t"] <= seconds + 1]
    second_half = [s for s in during if s["t"] >= seconds / 2]
    interval = 60.0 if seconds >= 300 else 10.0
    buckets: list[dict[str, Any]] = []
    prev = during[0] if during else None
    windows = f["traffic"]["windows"]
    for b in range(int(-(-seconds // interval))):
        lo, hi = b * interval, (b + 1) * interval
        inside = [s for s in during if lo <= s["t"] < hi] or [
            min(during, key=lambda s: abs(s["t"] - hi))
        ]
        last = inside[-1]
        cpu = _cpu_share(prev, last)
        prev = last
        win = [w for w in windows if lo <= w["t"] < hi]
        steps: dict[str, dict[str, float]] = {}
        for step in ("browse", "checkout", "pay", "chat"):
            found = [w["steps"][step] for w in win if step in w["steps"] and w["steps"][step]["ok"]]
            if found:
                steps[step] = {
                    "p50_ms": statistics.median(x["p50_ms"] for x in found),
                    "p99_ms": max(x["p99_ms"] for x in found),
                }
        buckets.append(
            {
                "t": hi,
                "app_mib": last["app_mib"],
                "worker_mib": last["worker_mib"],
                "pending": last["pending"],
                "oldest_s": last["oldest_s"],
                "ok": sum(x["ok"] for w in win for x in w["steps"].values()),
                "errors": sum(sum(x["errors"].values()) for w in win for x in w["steps"].values()),
                "steps": steps,
                "load1": last["load1"],
                **cpu,
            }
        )
    fifth = max(seconds / 5, 1.0)
    head = [s for s in during if s["t"] <= fifth] or during[:1]
    tail = [s for s in during if s["t"] >= seconds - fifth] or during[-1:]
    totals = f["traffic"]["totals"]
    errors = dict(totals["errors"])
    dead = samples[-1]["dead"] if samples else 0
    if dead:
        errors["outbox_dead"] = dead
    return {
        "rate": f["rate"],
        "seconds": seconds,
        "requests_ok": totals["ok"],
        "journeys": totals["journeys"],
        "errors": errors,
        "error_count": sum(errors.values()),
        "tracebacks": f["tracebacks"],
        "tracemalloc": f.get("tracemalloc", {}),
        "error_samples": f["traffic"]["error_samples"],
        "app_mib_start": during[0]["app_mib"] if during else 0.0,
        "app_mib_end": during[-1]["app_mib"] if during else 0.0,
        "worker_mib_start": during[0]["worker_mib"] if during else 0.0,
        "worker_mib_end": during[-1]["worker_mib"] if during else 0.0,
        "app_slope": slope_per_minute([(s["t"], s["app_mib"]) for s in second_half]),
        "worker_slope": slope_per_minute([(s["t"], s["worker_mib"]) for s in second_half]),
        "outbox_start": {
            "oldest_s_max": max(s["oldest_s"] for s in head) if head else 0.0,
            "pending_mean": statistics.fmean(s["pending"] for s in head) if head else 0.0,
        },
        "outbox_end": {
            "oldest_s_max": max(s["oldest_s"] for s in tail) if tail else 0.0,
            "pending_mean": statistics.fmean(s["pending"] for s in tail) if tail else 0.0,
        },
        "outbox_drained_after_s": f["outbox_drained_after_s"],
        "steps": f["traffic"]["steps"],
        "buckets": buckets,
        "interval_s": interval,
        "app_curve": [round(s["app_mib"], 1) for s in during],
        "worker_curve": [round(s["worker_mib"], 1) for s in during],
        "max_in_flight": f["traffic"]["max_in_flight"],
        "max_schedule_slip_ms": f["traffic"]["max_schedule_slip_ms"],
        "load1_mean": statistics.fmean(s["load1"] for s in during) if during else 0.0,
        **(_cpu_share(during[0], during[-1]) if during else {"app_cpu": 0.0, "worker_cpu": 0.0}),
    }


def _drained(seconds: float | None) -> str:
    if seconds is None:
        return "still not empty a minute after the traffic"
    return f"empty {seconds:.1f} s after the traffic"


def wide_console() -> Console:
    """The tables are wide: 160 columns when the output is not a terminal (a log)."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def print_report(console: Console, s: dict[str, Any]) -> None:
    t = Table(title=f"Soak: {s['rate']:g} journeys/s for {s['seconds']:.0f} s (open loop)")
    for col in ("step", "ok", "errors", "p50 ms", "p99 ms"):
        t.add_column(col, justify="left" if col == "step" else "right")
    for step, v in s["steps"].items():
        errs = ", ".join(f"{k} {n}" for k, n in v["errors"].items()) or "0"
        t.add_row(step, f"{v['ok']:,}", errs, f"{v['p50_ms']:.1f}", f"{v['p99_ms']:.1f}")
    console.print(t)
    unit = "min" if s["interval_s"] == 60 else f"{s['interval_s']:.0f} s"
    m = Table(
        title=f"Per {unit}: RSS and outbox at its end; p50 the median, p99 the worst of its"
        " 5 s windows"
    )
    for col in (
        "t s",
        "ok",
        "err",
        "app MiB",
        "worker MiB",
        "outbox",
        "oldest s",
        "browse p50/p99",
        "checkout p50/p99",
        "pay p50/p99",
        "chat p50/p99",
        "app CPU %",
        "worker CPU %",
        "load",
    ):
        m.add_column(col, justify="right")
    for b in s["buckets"]:
        lat = [
            f"{b['steps'][k]['p50_ms']:.0f}/{b['steps'][k]['p99_ms']:.0f}"
            if k in b["steps"]
            else "—"
            for k in ("browse", "checkout", "pay", "chat")
        ]
        m.add_row(
            f"{b['t']:.0f}",
            f"{b['ok']:,}",
            str(b["errors"]),
            f"{b['app_mib']:.1f}",
            f"{b['worker_mib']:.1f}",
            str(b["pending"]),
            f"{b['oldest_s']:.1f}",
            *lat,
            f"{b['app_cpu']:.0f}",
            f"{b['worker_cpu']:.0f}",
            f"{b['load1']:.1f}",
        )
    console.print(m)
    for who in ("app", "worker"):
        curve = s[f"{who}_curve"]
        if curve:
            console.print(
                f"  {who:6} RSS {sparkline(curve)}  {min(curve):.1f}–{max(curve):.1f} MiB;"
                f" second half {s[f'{who}_slope']:+.2f} MiB/min",
                markup=False,
            )
    a, b = s["outbox_start"], s["outbox_end"]
    console.print(
        f"  outbox: oldest pending ≤ {a['oldest_s_max']:.1f} s (first fifth) vs"
        f" ≤ {b['oldest_s_max']:.1f} s (last fifth); pending {a['pending_mean']:.1f} vs"
        f" {b['pending_mean']:.1f} on average;"
        f" {_drained(s['outbox_drained_after_s'])}",
        markup=False,
    )
    errs = ", ".join(f"{k} {n}" for k, n in s["errors"].items()) or "none"
    console.print(
        f"  errors: {errs}; tracebacks in logs {s['tracebacks']}; journeys {s['journeys']};"
        f" max in flight {s['max_in_flight']}, schedule slip ≤ {s['max_schedule_slip_ms']:.0f} ms,"
        f" load average {s['load1_mean']:.1f}; CPU app {s['app_cpu']:.0f} %,"
        f" worker {s['worker_cpu']:.0f} % of a core",
        markup=False,
    )
    for who, lines in s["tracemalloc"].items():
        if lines:
            console.print(f"  tracemalloc, what grew in the {who} after warm-up:", markup=False)
            for line in lines:
                console.print(f"    {line}", markup=False)
    for e in s["error_samples"][:10]:
        console.print(f"    t={e['t']} s {e['step']} {e['kind']}: {e['detail']}", markup=False)


def rows_of(s: dict[str, Any]) -> list[Row]:
    params = {"rate": s["rate"], "seconds": s["seconds"]}
    values: list[tuple[str, float, str]] = [
        ("journeys/s (fixed)", s["rate"], "1/s"),
        ("requests ok", s["requests_ok"], "requests"),
        ("errors", s["error_count"], "errors"),
        ("app RSS start", s["app_mib_start"], "MiB"),
        ("app RSS end", s["app_mib_end"], "MiB"),
        ("app RSS slope (second half)", s["app_slope"], "MiB/min"),
        ("worker RSS start", s["worker_mib_start"], "MiB"),
        ("worker RSS end", s["worker_mib_end"], "MiB"),
        ("worker RSS slope (second half)", s["worker_slope"], "MiB/min"),
        ("outbox oldest pending, first fifth", s["outbox_start"]["oldest_s_max"], "s"),
        ("outbox oldest pending, last fifth", s["outbox_end"]["oldest_s_max"], "s"),
        ("outbox pending, first fifth (mean)", s["outbox_start"]["pending_mean"], "events"),
        ("outbox pending, last fifth (mean)", s["outbox_end"]["pending_mean"], "events"),
        ("schedule slip max", s["max_schedule_slip_ms"], "ms"),
        ("app CPU (mean)", s["app_cpu"], "% of a core"),
        ("worker CPU (mean)", s["worker_cpu"], "% of a core"),
        ("load average (mean)", s["load1_mean"], "load"),
    ]
    values += [(f"errors: {k}", float(n), "errors") for k, n in s["errors"].items()]
    for step, v in s["steps"].items():
        values.append((f"{step} p50", v["p50_ms"], "ms"))
        values.append((f"{step} p99", v["p99_ms"], "ms"))
    return [Row(NAME, BACKEND, metric, float(v), unit, params) for metric, v, unit in values]
