"""Imports as background jobs: progress, outcome, history, tenancy, and Redis between processes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from loopmall.app import create_app
from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.imports.formats import ImportKind, read_table
from loopmall.imports.jobs import EXTRAS_KEY, board
from loopmall.imports.models import ImportJob
from loopmall.imports.service import Actor, run_import
from tests.factories import make_merchant, make_staff, token_for
from tests.imports.conftest import counts, upload
from tests.imports.samples import STORE_HEADERS_EN, store_row, stores_csv, to_csv

JOBS = "/api/v1/imports/jobs"


async def finished(
    client: httpx.AsyncClient, job_id: str, headers: dict[str, str]
) -> dict[str, Any]:
    for _ in range(500):
        r = await client.get(f"{JOBS}/{job_id}", headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] not in {"queued", "running"}:
            return r.json()
        await asyncio.sleep(0.01)
    raise AssertionError("the import job did not finish")


async def test_job_imports_and_reports_the_summary(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    # when a file is handed to a job
    r = await upload(client, f"{JOBS}?kind=stores", stores_csv(5), headers, "门店.csv")
    # then it is accepted at once, queued, with the rows counted
    assert r.status_code == 202, r.text
    queued = r.json()
    assert (queued["status"], queued["phase"], queued["rows"]) == ("queued", "queued", 5)
    assert queued["source"] == "api"
    # and it finishes with the summary
    job = await finished(client, queued["id"], headers)
    assert (job["status"], job["phase"]) == ("succeeded", "done")
    assert (job["created"], job["updated"], job["error_count"], job["errors"]) == (5, 0, 0, [])
    assert job["processed"] == job["total"]
    assert job["filename"] == "门店.csv"
    assert (await counts(state, tenant))["stores"] == 5
    # and the history lists it
    listed = (await client.get(f"{JOBS}?kind=stores", headers=headers)).json()
    assert [(i["id"], i["status"], i["created"]) for i in listed["items"]] == [
        (queued["id"], "succeeded", 5)
    ]
    assert (await client.get(f"{JOBS}?kind=staff", headers=headers)).json()["items"] == []


async def test_rejected_job_keeps_every_bad_row_and_writes_nothing(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    rows = [store_row(1), store_row(2, latitude="999"), store_row(3)]
    r = await upload(client, f"{JOBS}?kind=stores", to_csv(STORE_HEADERS_EN, rows), headers)
    job = await finished(client, r.json()["id"], headers | {"Accept-Language": "en"})
    assert job["status"] == "rejected"
    assert (job["created"], job["updated"], job["error_count"]) == (None, None, 1)
    assert job["errors"] == [
        {
            "row": 3,
            "column": "latitude",
            "field": "latitude",
            "code": "latitude_range",
            "reason": "Latitude must be between -90 and 90",
        }
    ]
    assert await counts(state, tenant) == {"stores": 0, "staff": 1, "assignments": 0, "jobs": 1}
    # when this process forgets the job, the history table still answers, in Chinese too
    state.extras.pop(EXTRAS_KEY)
    again = (await client.get(f"{JOBS}/{job['id']}", headers=headers)).json()
    assert again["status"] == "rejected"
    assert again["errors"][0]["reason"] == "纬度必须在 -90 到 90 之间"


async def test_a_malformed_file_is_refused_before_any_job(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    r = await upload(client, f"{JOBS}?kind=staff", b"\x00\x01junk\x02", headers)
    assert r.status_code == 422
    assert r.json()["code"] == "malformed_file"
    r = await upload(client, f"{JOBS}?kind=staff", stores_csv(1), headers)
    assert r.status_code == 422
    assert r.json()["code"] == "missing_columns"
    assert r.json()["missing"] == ["role"]  # a stores file has phone and name columns
    r = await upload(client, f"{JOBS}?kind=products", stores_csv(1), headers)
    assert r.status_code == 422
    assert await counts(state, tenant) == {"stores": 0, "staff": 1, "assignments": 0, "jobs": 0}


async def test_another_merchants_job_is_not_found(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    other = await make_merchant(state, "other", "Other")
    await make_staff(state, other, phone="13700000000")
    other_headers = await token_for(client, "other", "13700000000")
    r = await upload(client, f"{JOBS}?kind=stores", stores_csv(1), headers)
    job_id = r.json()["id"]
    await finished(client, job_id, headers)
    assert (await client.get(f"{JOBS}/{job_id}", headers=other_headers)).status_code == 404
    state.extras.pop(EXTRAS_KEY)  # and from the history table too
    assert (await client.get(f"{JOBS}/{job_id}", headers=other_headers)).status_code == 404
    assert (await client.get(f"{JOBS}/imp_nope", headers=headers)).status_code == 404
    listed = (await client.get(JOBS, headers=other_headers)).json()
    assert listed["items"] == []


async def test_progress_goes_through_both_phases(
    state: AppState, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, _headers = owner
    table = read_table(stores_csv(2500), ImportKind.STORES, max_bytes=10**8)
    seen: list[tuple[str, int, int]] = []

    async def report(phase: str, done: int, total: int) -> None:
        seen.append((phase, done, total))

    async with UnitOfWork(state.write_factory) as uow:
        summary = await run_import(uow.session, tenant, table, Actor("cli"), report=report)
        await uow.commit()
    assert summary.created == 2500
    validating = [s for s in seen if s[0] == "validating"]
    writing = [s for s in seen if s[0] == "writing"]
    assert validating == [
        ("validating", 0, 2500),
        ("validating", 1000, 2500),
        ("validating", 2000, 2500),
        ("validating", 2500, 2500),
    ]
    assert writing[0] == ("writing", 0, 2500)
    assert writing[-1] == ("writing", 2500, 2500)
    assert [d for _p, d, _t in writing] == sorted(d for _p, d, _t in writing)
    assert seen.index(validating[-1]) < seen.index(writing[0])


@pytest.fixture
async def twin_apps(settings: Settings, redis_url: str, redis_prefix: str, tmp_path: Path) -> Any:
    """Two app processes (as far as memory goes) sharing one database and one Redis."""
    shared = settings.model_copy(update={"redis_url": redis_url, "redis_prefix": redis_prefix})
    first, second = create_app(shared), create_app(shared)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        yield first, second


async def test_progress_is_shared_through_redis(twin_apps: Any) -> None:
    first, second = twin_apps
    state: AppState = first.state.loopmall
    tenant = await make_merchant(state, "acme")
    await make_staff(state, tenant)
    a = httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://a")
    b = httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://b")
    async with a, b:
        headers = await token_for(a, "acme", "13800000001")
        # given a job started on the first process
        r = await upload(a, f"{JOBS}?kind=stores", stores_csv(3), headers)
        job_id = r.json()["id"]
        await board(state).join()
        # and its record gone from the table (so only Redis can tell)
        async with UnitOfWork(state.write_factory) as uow:
            await uow.session.execute(delete(ImportJob))
            await uow.commit()
        # when the second process is asked
        r = await b.get(f"{JOBS}/{job_id}", headers=headers)
        # then it knows the outcome from Redis
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["created"]) == ("succeeded", 3)
        raw = await state.redis.get(f"{state.settings.redis_prefix}imports:job:{job_id}")
        assert raw is not None
        assert 0 < await state.redis.ttl(f"{state.settings.redis_prefix}imports:job:{job_id}")
        await state.redis.delete(f"{state.settings.redis_prefix}imports:job:{job_id}")
        assert (await b.get(f"{JOBS}/{job_id}", headers=headers)).status_code == 404
