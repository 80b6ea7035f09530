"""Thirty wrong guesses of one SMS login code at once, through the API, on SQLite and
PostgreSQL (issue #11, case 10): exactly five are checked — each told how many tries are
left — the rest are refused unchecked, and the right code is refused after that."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers import login as consumer_login
from loopmall.customers.models import SmsCode
from tests.factories import make_merchant

PHONE = "13912345678"
GUESSES = 30


async def _code(state: AppState) -> tuple[int, str]:
    tenant = await make_merchant(state, "acme")
    async with UnitOfWork(state.write_factory) as uow:
        row, code = await consumer_login.request_sms_code(
            uow.session,
            tenant,
            PHONE,
            secret=state.settings.secret_key,
            ttl_seconds=state.settings.sms_code_ttl_seconds,
        )
        await uow.commit()
    return row.id, code


async def test_thirty_parallel_wrong_guesses_check_exactly_five(
    state: AppState, client: httpx.AsyncClient
) -> None:
    code_id, code = await _code(state)
    wrong = [f"{(int(code) + 1 + i) % 1_000_000:06d}" for i in range(GUESSES)]

    answers = await asyncio.gather(
        *(
            client.post("/api/v1/mall/acme/auth/sms", json={"phone": PHONE, "code": guess})
            for guess in wrong
        )
    )

    assert {(a.status_code, a.json()["code"]) for a in answers} == {(401, "invalid_sms_code")}
    checked = sorted(a.json()["tries_left"] for a in answers if "tries_left" in a.json())
    assert checked == [0, 1, 2, 3, 4]
    async with UnitOfWork(state.read_factory) as uow:
        row = await uow.session.scalar(select(SmsCode).where(SmsCode.id == code_id))
        assert row is not None
        assert (row.attempts, row.used_at) == (consumer_login.TRIES_PER_CODE, None)

    right = await client.post("/api/v1/mall/acme/auth/sms", json={"phone": PHONE, "code": code})

    assert (right.status_code, right.json()["code"]) == (401, "invalid_sms_code")
    assert "tries_left" not in right.json()


async def test_parallel_right_guesses_spend_the_code_once(
    state: AppState, client: httpx.AsyncClient
) -> None:
    """Two devices sending the right code at once: one session, the code spent once."""
    _code_id, code = await _code(state)

    answers = await asyncio.gather(
        *(
            client.post("/api/v1/mall/acme/auth/sms", json={"phone": PHONE, "code": code})
            for _ in range(4)
        )
    )

    assert sorted(a.status_code for a in answers) == [201, 401, 401, 401]


async def test_parallel_code_requests_text_one_code(
    state: AppState, client: httpx.AsyncClient
) -> None:
    """One code a minute per phone holds for requests that arrive together, too."""
    await make_merchant(state, "acme")

    answers = await asyncio.gather(
        *(client.post("/api/v1/mall/acme/auth/sms/code", json={"phone": PHONE}) for _ in range(10))
    )

    assert sorted(a.status_code for a in answers) == [202] + [429] * 9
    assert {a.json()["code"] for a in answers if a.status_code == 429} == {"sms_code_too_soon"}
    async with UnitOfWork(state.read_factory) as uow:
        codes = (await uow.session.scalars(select(SmsCode.id))).all()
    assert len(codes) == 1
