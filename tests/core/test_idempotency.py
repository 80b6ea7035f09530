"""Idempotency-Key: one effect per key, the same answer on retry, 422 on a different body."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Request
from sqlalchemy import func, select

from loopmall.app import install_error_handlers
from loopmall.core.events import Event
from loopmall.core.http import write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import publish
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork


class ThingCreated(Event):
    topic = "test.thing_created"
    name: str


class UploadCreated(Event):
    topic = "test.upload_created"
    size: int


async def _last_event_id(uow: UnitOfWork) -> int:
    return int(await uow.session.scalar(select(func.max(OutboxEvent.id))) or 0)


def _app(state: AppState) -> FastAPI:
    app = FastAPI()
    app.state.loopmall = state
    install_error_handlers(app)

    @app.post("/things", status_code=201)
    async def create(request: Request, uow: UnitOfWork = Depends(write_uow)) -> Any:
        body = await request.json()

        async def work() -> dict[str, Any]:
            await publish(uow.session, ThingCreated(merchant_id=1, name=str(body["name"])))
            return {"event": await _last_event_id(uow), "name": body["name"]}

        return await run_idempotent(request, uow, "test:1", work)

    @app.post("/uploads", status_code=201)
    async def upload(request: Request, uow: UnitOfWork = Depends(write_uow)) -> Any:
        form = await request.form()
        file = form["file"]
        assert not isinstance(file, str)
        content = await file.read()  # the route reads the upload before the key is checked

        async def work() -> dict[str, Any]:
            await publish(uow.session, UploadCreated(merchant_id=1, size=len(content)))
            return {"event": await _last_event_id(uow), "size": len(content)}

        return await run_idempotent(request, uow, "test:1", work)

    return app


async def _count(state: AppState) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(OutboxEvent)) or 0)


async def _client(state: AppState) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(state)), base_url="http://t")


async def test_same_key_same_body_replays(state: AppState) -> None:
    async with await _client(state) as c:
        first = await c.post("/things", json={"name": "a"}, headers={"Idempotency-Key": "k1"})
        second = await c.post("/things", json={"name": "a"}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await _count(state) == 1


async def test_same_key_other_body_is_422_and_changes_nothing(state: AppState) -> None:
    async with await _client(state) as c:
        await c.post("/things", json={"name": "a"}, headers={"Idempotency-Key": "k1"})
        other = await c.post("/things", json={"name": "b"}, headers={"Idempotency-Key": "k1"})
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "idempotency_key_reused"
    assert await _count(state) == 1


async def test_without_key_every_call_acts(state: AppState) -> None:
    async with await _client(state) as c:
        await c.post("/things", json={"name": "a"})
        await c.post("/things", json={"name": "a"})
    assert await _count(state) == 2


async def test_concurrent_retries_with_one_key_act_once(state: AppState) -> None:
    async with await _client(state) as c:
        responses = await asyncio.gather(
            *[
                c.post("/things", json={"name": "a"}, headers={"Idempotency-Key": "race"})
                for _ in range(20)
            ]
        )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["event"] for r in responses}) == 1
    assert await _count(state) == 1


async def test_blank_key_is_rejected(state: AppState) -> None:
    async with await _client(state) as c:
        r = await c.post("/things", json={"name": "a"}, headers={"Idempotency-Key": "x" * 300})
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    assert await _count(state) == 0


async def test_multipart_retry_with_a_new_boundary_replays(state: AppState) -> None:
    key = {"Idempotency-Key": "up-1"}
    async with await _client(state) as c:
        first = await c.post("/uploads", files={"file": ("a.csv", b"abc")}, headers=key)
        again = await c.post("/uploads", files={"file": ("a.csv", b"abc")}, headers=key)
        other = await c.post("/uploads", files={"file": ("a.csv", b"abcd")}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() == {"event": first.json()["event"], "size": 3}
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert await _count(state) == 1
