"""Every caller's Idempotency-Keys are theirs alone (issue #11, case 18's class): a caller
who is nobody yet — a merchant signing up — is scoped by the owner's phone, so a stranger
sending the same key opens their own merchant instead of being refused for another's; and a
scope longer than its column (a long mall slug and a visitor id) still works."""

from __future__ import annotations

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
from loopmall.merchants.models import Merchant
from tests.merchants.conftest import rows

WANG = {
    "name": "王记水果",
    "slug": "wang-fruit",
    "owner_name": "王阿姨",
    "owner_phone": "13912345678",
    "owner_password": "apples-and-pears",
}
LI = {
    "name": "李记干货",
    "slug": "li-dried",
    "owner_name": "李叔",
    "owner_phone": "13987654321",
    "owner_password": "mushrooms-and-dates",
}


async def test_two_strangers_signing_up_with_one_key_open_two_merchants(
    state: AppState, client: httpx.AsyncClient
) -> None:
    key = {"Idempotency-Key": "signup-1"}

    wang = await client.post("/api/v1/merchants", json=WANG, headers=key)
    li = await client.post("/api/v1/merchants", json=LI, headers=key)
    wang_again = await client.post("/api/v1/merchants", json=WANG, headers=key)

    assert (wang.status_code, li.status_code) == (201, 201), li.text
    assert li.json()["merchant"]["slug"] == "li-dried"
    assert wang_again.headers["Idempotent-Replayed"] == "true"
    assert wang_again.json() == wang.json()
    assert await rows(state, Merchant) == 2


class PayStarted(Event):
    topic = "test.pay_started"
    n: int


def _scoped_app(state: AppState, scope: str) -> FastAPI:
    app = FastAPI()
    app.state.loopmall = state
    install_error_handlers(app)

    @app.post("/pay", status_code=201)
    async def pay(request: Request, uow: UnitOfWork = Depends(write_uow)) -> Any:
        async def work() -> dict[str, Any]:
            await publish(uow.session, PayStarted(merchant_id=1, n=1))
            return {"event": await uow.session.scalar(select(func.max(OutboxEvent.id)))}

        return await run_idempotent(request, uow, scope, work)

    return app


async def test_a_scope_longer_than_its_column_still_keys_one_answer(state: AppState) -> None:
    """A 40-character mall slug and a device's visitor id: 92 characters, stored as a
    digest (the column holds 80; PostgreSQL refused the insert with a 500)."""
    long_scope = "mall:" + "m" * 40 + ":visitor:v_" + "a" * 36
    other_device = "mall:" + "m" * 40 + ":visitor:v_" + "b" * 36
    transport = httpx.ASGITransport(app=_scoped_app(state, long_scope))
    other = httpx.ASGITransport(app=_scoped_app(state, other_device))
    key = {"Idempotency-Key": "k1"}
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://t") as c,
        httpx.AsyncClient(transport=other, base_url="http://t") as d,
    ):
        first = await c.post("/pay", json={}, headers=key)
        again = await c.post("/pay", json={}, headers=key)
        theirs = await d.post("/pay", json={}, headers=key)

    assert (first.status_code, again.status_code, theirs.status_code) == (201, 201, 201)
    assert again.json() == first.json()
    assert theirs.json() != first.json()
