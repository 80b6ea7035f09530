"""One soak: the world, the processes (stand-ins, ``loopmall serve``, ``loopmall worker``, the
load generator), the samples, and the figures."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.flashsale.replay import REDIS_URL
from bench.serving import Processes, free_port, fresh_database, loopmall_command, wait_http
from bench.soak import memtrace
from bench.soak.sampler import Sample, sample
from bench.soak.world import load_world, plan_of
from loopmall.config import Settings
from loopmall.core.state import AppState

SECRET = "bench-soak-secret"
SAMPLE_SECONDS = 5.0
DRAIN_SECONDS = 60.0  # after the traffic, how long the outbox may take to empty
ROOT = Path(__file__).resolve().parents[2]


def _plain_env() -> dict[str, str]:
    """This process's environment without Loopmall's settings, the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPMALL_")}
    return {**env, "PYTHONPATH": str(ROOT)}


def _env(
    settings: Settings, base: str, outside: dict[str, str], *, background: bool
) -> dict[str, str]:
    env = _plain_env()
    env.update(
        {
            "LOOPMALL_DATABASE_URL": settings.database_url,
            "LOOPMALL_DATA_DIR": str(settings.data_dir),
            "LOOPMALL_SECRET_KEY": SECRET,
            "LOOPMALL_AUTO_MIGRATE": "false",
            "LOOPMALL_RUN_BACKGROUND": "true" if background else "false",
            "LOOPMALL_REDIS_URL": settings.redis_url or "",
            "LOOPMALL_REDIS_PREFIX": settings.redis_prefix,
            "LOOPMALL_BASE_URL": base,
            # The demo's one-tap login: how the generator's shoppers sign in.
            "LOOPMALL_SANDBOX_LOGIN": "true",
            "LOOPMALL_WECHATPAY_BASE_URL": outside["wechatpay"],
            "LOOPMALL_ALIPAY_GATEWAY_URL": outside["alipay"] + "/gateway.do",
            "LOOPMALL_WECHAT_API_BASE_URL": outside["wechat"],
            "LOOPMALL_WECHAT_OPEN_BASE_URL": outside["wechat"],
            "LOOPMALL_SMS_BASE_URL": outside["sms"],
        }
    )
    return env


async def _wait_file(path: Path, proc: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start (see its log)")
        await asyncio.sleep(0.2)


def _tracebacks(log: Path) -> int:
    return log.read_text(errors="replace").count("Traceback") if log.exists() else 0


def _traced(env: dict[str, str], out: Path | None, every: float) -> dict[str, str]:
    """``env`` with tracemalloc on (``memtrace/sitecustomize.py``) when ``out`` is given."""
    if out is None:
        return env
    out.mkdir(exist_ok=True)
    return {
        **env,
        "PYTHONPATH": f"{memtrace.HERE}{os.pathsep}{env['PYTHONPATH']}",
        "SOAK_TRACEMALLOC_DIR": str(out),
        "SOAK_TRACEMALLOC_EVERY": f"{every:g}",
    }


async def soak(
    *,
    seconds: float,
    rate: float,
    log_dir: Path,
    console: Console,
    tracemalloc: str | None = None,
) -> dict[str, Any]:
    """Run one soak of ``seconds`` at ``rate`` journeys a second; its raw figures. With
    ``tracemalloc`` (``app``, ``worker`` or ``both``) those processes trace their allocations
    (slower) and the figures say which sites grew from the second snapshot to the last.
    A SIGTERM (a killed ``make bench``) ends it as Ctrl-C does: its processes and database go."""
    loop, me = asyncio.get_running_loop(), asyncio.current_task()
    installed = False
    if me is not None:
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, me.cancel)
            installed = True
    try:
        return await _soak(
            seconds=seconds, rate=rate, log_dir=log_dir, console=console, tracemalloc=tracemalloc
        )
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGTERM)


async def _soak(
    *,
    seconds: float,
    rate: float,
    log_dir: Path,
    console: Console,
    tracemalloc: str | None = None,
) -> dict[str, Any]:
    """Run one soak of ``seconds`` at ``rate`` journeys a second; its raw figures. With
    ``tracemalloc`` (``app``, ``worker`` or ``both``) those processes trace their allocations
    (slower) and the figures say which sites grew from the second snapshot to the last."""
    traces = log_dir / "tracemalloc" if tracemalloc else None
    app_traces = traces if tracemalloc in ("app", "both") else None
    worker_traces = traces if tracemalloc in ("worker", "both") else None
    every = max(10.0, seconds / 10)
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lm-soak-") as tmp_name:
        tmp = Path(tmp_name)
        async with fresh_database("postgres", tmp, "loopmall_bench_soak") as url:
            settings = Settings(
                database_url=url,
                data_dir=tmp,
                redis_url=REDIS_URL,
                redis_prefix=f"lmsoak:{uuid.uuid4().hex[:8]}:",
                secret_key=SECRET,
                auto_migrate=False,
                run_background=False,
            )
            state = AppState.build(settings)
            procs = Processes()
            loadgen: asyncio.subprocess.Process | None = None
            try:
                t0 = time.perf_counter()
                await load_world(state)
                plan = await plan_of(state, settings)
                (tmp / "plan.json").write_text(json.dumps(plan, ensure_ascii=False))
                setup_s = time.perf_counter() - t0
                console.print(
                    f"  world: demo loaded in {setup_s:.1f} s ({len(plan['skus'])} SKUs,"
                    f" {len(plan['qr_codes'])} QR codes, {len(plan['guides'])} guides)"
                )
                standins = procs.start(
                    [
                        sys.executable,
                        "-m",
                        "bench.soak.standins",
                        "--data-dir",
                        str(tmp),
                        "--out",
                        str(tmp / "outside.json"),
                    ],
                    _plain_env(),
                    log_dir / "standins.log",
                )
                await _wait_file(tmp / "outside.json", standins, "the stand-ins")
                outside = json.loads((tmp / "outside.json").read_text())
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                server = procs.start(
                    loopmall_command("serve", "--port", str(port), "--no-access-log"),
                    _traced(_env(settings, base, outside, background=False), app_traces, every),
                    log_dir / "server.log",
                )
                worker = procs.start(
                    loopmall_command("worker"),
                    _traced(_env(settings, base, outside, background=True), worker_traces, every),
                    log_dir / "worker.log",
                )
                # Traced, the app imports slowly (and the machine is shared).
                await wait_http(base, timeout=300 if app_traces else 120)
                if traces is not None:
                    (traces / "go").touch()
                samples: list[Sample] = [await sample(state, server.pid, worker.pid)]
                loadgen = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bench.soak.loadgen",
                    "--plan",
                    str(tmp / "plan.json"),
                    "--out",
                    str(tmp / "result.json"),
                    "--status",
                    str(tmp / "status.json"),
                    "--app",
                    base,
                    "--wechatpay",
                    outside["wechatpay"],
                    "--rate",
                    str(rate),
                    "--seconds",
                    str(seconds),
                    cwd=str(ROOT),
                    stdout=(log_dir / "loadgen.log").open("ab"),
                    stderr=asyncio.subprocess.STDOUT,
                )
                next_print = time.monotonic() + 10
                # Plain sleeps, not wait_for on the generator: a Ctrl-C must end the soak.
                while loadgen.returncode is None:
                    await asyncio.sleep(SAMPLE_SECONDS)
                    for proc, name in ((server, "app"), (worker, "worker")):
                        if proc.poll() is not None:
                            raise RuntimeError(f"the {name} process ended ({proc.returncode})")
                    samples.append(await sample(state, server.pid, worker.pid))
                    if time.monotonic() >= next_print:
                        next_print += 10
                        _progress(console, samples[-1], tmp / "status.json")
                if loadgen.returncode != 0:
                    raise RuntimeError(f"the load generator failed (see {log_dir / 'loadgen.log'})")
                result = json.loads((tmp / "result.json").read_text())
                traffic_end = time.monotonic()
                drain_s: float | None = None
                while time.monotonic() - traffic_end < DRAIN_SECONDS:
                    last = await sample(state, server.pid, worker.pid)
                    samples.append(last)
                    if last.pending == 0:
                        drain_s = time.monotonic() - traffic_end
                        break
                    await asyncio.sleep(1)
                return {
                    "seconds": seconds,
                    "rate": rate,
                    "setup_s": setup_s,
                    "traffic": result,
                    "samples": [s.as_dict() for s in samples],
                    "start": result["start"],
                    "traffic_end": traffic_end,
                    "outbox_drained_after_s": drain_s,
                    "tracebacks": {
                        "app": _tracebacks(log_dir / "server.log"),
                        "worker": _tracebacks(log_dir / "worker.log"),
                        "standins": _tracebacks(log_dir / "standins.log"),
                    },
                    "tracemalloc": {
                        "app": memtrace.growth(app_traces, server.pid) if app_traces else [],
                        "worker": memtrace.growth(worker_traces, worker.pid)
                        if worker_traces
                        else [],
                    },
                    "wall_s": time.perf_counter() - wall,
                }
            finally:
                if loadgen is not None and loadgen.returncode is None:
                    with suppress(ProcessLookupError):
                        loadgen.kill()
                    await loadgen.wait()
                procs.stop()
                if state.redis is not None:
                    found = [
                        k async for k in state.redis.scan_iter(match=f"{settings.redis_prefix}*")
                    ]
                    if found:
                        await state.redis.delete(*found)
                await state.close()


def _progress(console: Console, s: Sample, status: Path) -> None:
    live: dict[str, Any] = {}
    with suppress(FileNotFoundError, json.JSONDecodeError):
        live = json.loads(status.read_text())
    t = s.at - live["start"] if "start" in live else 0.0
    errors = sum(live.get("errors", {}).values())
    console.print(
        f"  t={t:5.0f} s  ok {live.get('ok', 0):,}  errors {errors}  in flight"
        f" {live.get('in_flight', 0)}  app {s.app_mib:.0f} MiB  worker {s.worker_mib:.0f} MiB"
        f"  outbox {s.pending} pending (oldest {s.oldest_s:.1f} s)  load {s.load1:.1f}",
        style="dim",
        markup=False,
    )
