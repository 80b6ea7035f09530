"""The whole API, fuzzed from its own OpenAPI schema by schemathesis: never a 5xx.

Runs the schemathesis CLI against a live server (a fresh SQLite database with a merchant,
an owner token and a store, so that requests get past authentication into the services).

The operations are fuzzed in four groups of paths, one test each, so that the workers of
``pytest -n`` share them: the whole API in one run took 80–260 s (8,800 requests, three
quarters of them the coverage phase's boundary cases) and grows with every operation.
The last group is every path the others do not name, so a new operation is never left out.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from loopmall.core.state import AppState
from tests.browser.conftest import LiveServer, live_server
from tests.factories import PASSWORD, make_merchant, make_staff

__all__ = ["live_server"]

MAX_EXAMPLES = 12

# Paths under /api/v1, grouped so that each group takes about a quarter of the run
# (seconds per path from a run's NDJSON report, then the groups' durations; rebalance
# when one group takes much longer). Regular expressions on the path.
GROUPS = {
    "shoppers-and-guides": [r"mall/\{slug\}", "guides"],
    "catalog-and-commission": ["products", "skus", "channels", "commission"],
    "stock-stores-and-orders": [
        "stock",
        "holds",
        "locations",
        "stores",
        r"mall/(settings|logo)",
        "orders",
        "store-sales",
    ],
}
EVERYTHING_ELSE = "everything-else"


def _paths(prefixes: list[str]) -> str:
    return rf"^/api/v1/({'|'.join(prefixes)})(/|$)"


def _selection(group: str) -> list[str]:
    if group == EVERYTHING_ELSE:
        named = [prefix for prefixes in GROUPS.values() for prefix in prefixes]
        return ["--exclude-path-regex", _paths(named)]
    return ["--include-path-regex", _paths(GROUPS[group])]


def _operator_only(group: str) -> int:
    # GET /platform/merchants, POST …/suspend, POST …/reactivate; GET /platform/events/dead,
    # POST …/dead/{id}/retry, POST …/dead/retry: only an operator's token passes them.
    return 6 if group == EVERYTHING_ELSE else 0


def _seed(server: LiveServer) -> str:
    async def seed(state: AppState) -> None:
        tenant = await make_merchant(state, "fuzz", "Fuzz")
        await make_staff(state, tenant, phone="13800000001")

    server.run(seed)
    r = httpx.post(
        f"{server.url}/api/v1/auth/token",
        json={"merchant": "fuzz", "phone": "13800000001", "password": PASSWORD},
    )
    assert r.status_code == 201, r.text
    token = r.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.post(
        f"{server.url}/api/v1/stores", json={"code": "F1", "name": "Fuzz 1"}, headers=headers
    )
    assert r.status_code == 201, r.text
    return token


@pytest.mark.parametrize("group", [*GROUPS, EVERYTHING_ELSE])
def test_no_operation_answers_5xx(group: str, live_server: LiveServer, tmp_path: Path) -> None:
    token = _seed(live_server)
    # FastAPI builds the schema on the first request and keeps it; building it takes seconds
    # on a busy machine, longer than schemathesis waits for it.
    assert httpx.get(f"{live_server.url}/openapi.json", timeout=120).status_code == 200
    report = tmp_path / "report.json"
    cli = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(cli),
            "run",
            f"{live_server.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {token}",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "2014",
            "--generation-deterministic",
            "--request-timeout",
            "30",
            "--suppress-health-check",
            "all",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(report),
            "--no-color",
            # Revoking the token would turn every later case into a 401 (tested in
            # tests/identity instead).
            "--exclude-name",
            "DELETE /api/v1/auth/token",
            *_selection(group),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    tail = result.stdout[-6000:]
    if result.returncode != 0:
        pytest.fail(f"schemathesis found problems (exit {result.returncode}):\n{tail}")
    # Every operation of the group was fuzzed, and there were some.
    selected = re.search(r"Selected: (\d+)/\d+", result.stdout)
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert selected and tested and int(tested[1]) == int(selected[1]) > 0, tail
    # Only the operator-only operations may answer nothing but 401/403 to an owner's token;
    # more means the token stopped working and the fuzzing never reached the services.
    denied = re.search(r"Authentication failed: (\d+) operations", result.stdout)
    assert denied is None or int(denied[1]) <= _operator_only(group), tail
    events = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    assert events, "schemathesis ran no operation"
