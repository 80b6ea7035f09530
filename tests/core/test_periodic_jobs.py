"""Every periodic job written in the code is one the worker schedules.

A job registers itself when its module is imported (``core.jobs.periodic``); a module that
nothing the app or the worker loads imports never runs its jobs, and nothing says so (the
flash sale's every-minute reconcile sat in ``flashsale/reconcile.py`` unrun: issue #21).
The worker's jobs are listed in a fresh interpreter, as ``loopmall worker`` loads them, and
set against every ``@periodic("…")`` in the source.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import loopmall

SOURCE = Path(loopmall.__file__).parent

# Jobs that are written as periodic but run elsewhere on purpose, and where.
RUN_ELSEWHERE = {
    # ADR 0007: production runs `loopmall flashsale-consumer` beside the app processes.
    "flashsale.stream": "loopmall flashsale-consumer",
}

WORKER_JOBS = """
import json
from loopmall.app import HANDLER_MODULES
from loopmall.config import Settings
from loopmall.core import jobs
from loopmall.core.broker import load_handlers

load_handlers(Settings(extra_handler_modules=""), HANDLER_MODULES)
print(json.dumps(sorted(job.name for job in jobs.registered())))
"""


def _declared_jobs() -> dict[str, str]:
    """Every ``@periodic("name", …)`` in the source: name → module."""
    found: dict[str, str] = {}
    for path in SOURCE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Name)
                    and decorator.func.id == "periodic"
                    and isinstance(decorator.args[0], ast.Constant)
                ):
                    module = ".".join(path.relative_to(SOURCE.parent).with_suffix("").parts)
                    found[str(decorator.args[0].value)] = module
    return found


def _worker_jobs() -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", WORKER_JOBS], capture_output=True, text=True, check=True
    )
    names: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return names


def test_the_worker_schedules_every_periodic_job_in_the_code() -> None:
    declared = _declared_jobs()
    scheduled = _worker_jobs()
    # The scan itself finds the jobs it must (it would pass on an empty source otherwise).
    assert {"flashsale.reconcile", "flashsale-lapse-unpaid", "lapse-holds"} <= set(declared)
    never_run = {
        name: module
        for name, module in declared.items()
        if name not in scheduled and name not in RUN_ELSEWHERE
    }
    assert never_run == {}, f"periodic jobs no module the worker loads imports: {never_run}"
    assert set(scheduled) == set(declared) - set(RUN_ELSEWHERE)
