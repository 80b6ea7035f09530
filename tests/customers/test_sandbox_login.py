"""The demo's one-tap login (issue #11, case 4): off unless switched on, and even on it
signs in only sandbox people — never a real customer by their phone number."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.login import is_sandbox_phone
from loopmall.customers.models import ConsumerSession, Customer
from loopmall.customers.service import sandbox_login
from tests.factories import make_merchant

REAL = "13812345678"


def test_sandbox_login_is_off_unless_switched_on() -> None:
    assert Settings(env="dev").sandbox_login is False


def test_only_the_reserved_range_is_a_sandbox_number() -> None:
    assert is_sandbox_phone("10000000001") and is_sandbox_phone("10099999999")
    for phone in (REAL, "1000000001", "100000000012", "11000000001", "10a00000001", ""):
        assert not is_sandbox_phone(phone), phone


async def _real_customer(state: AppState) -> Customer:
    tenant = await make_merchant(state, "acme", "Acme")
    async with UnitOfWork(state.write_factory) as uow:  # as an SMS login leaves them
        customer, _token = await sandbox_login(uow.session, tenant, name="真顾客", phone=REAL)
        await uow.commit()
    return customer


async def _sessions(state: AppState) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(ConsumerSession)))


async def test_the_api_refuses_a_real_customers_phone(
    state: AppState, client: httpx.AsyncClient
) -> None:
    await _real_customer(state)
    before = await _sessions(state)

    r = await client.post("/api/v1/mall/acme/auth/sandbox", json={"name": "x", "phone": REAL})

    assert r.status_code == 422 and r.json()["code"] == "sandbox_phone_not_reserved"
    assert r.json()["field"] == "phone"
    assert await _sessions(state) == before, "no session was opened"


async def test_the_page_refuses_a_real_customers_phone(
    state: AppState, client: httpx.AsyncClient
) -> None:
    await _real_customer(state)
    before = await _sessions(state)
    page = await client.get("/m/acme/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf and "测试号码" in page.text

    r = await client.post(
        "/m/acme/login/sandbox", data={"name": "x", "phone": REAL, "csrf_token": csrf.group(1)}
    )

    assert r.status_code == 422 and "体验登录只接受测试号码" in r.text
    assert "set-cookie" not in r.headers or "lm_shopper" not in r.headers["set-cookie"]
    assert await _sessions(state) == before


async def test_a_reserved_number_is_one_sandbox_person_and_no_number_a_new_one(
    state: AppState, client: httpx.AsyncClient
) -> None:
    await make_merchant(state, "acme", "Acme")

    first = await client.post(
        "/api/v1/mall/acme/auth/sandbox", json={"name": "测", "phone": "10000000001"}
    )
    again = await client.post(
        "/api/v1/mall/acme/auth/sandbox", json={"name": "测", "phone": "10000000001"}
    )
    a = await client.post("/api/v1/mall/acme/auth/sandbox", json={"name": "甲"})
    b = await client.post("/api/v1/mall/acme/auth/sandbox", json={"name": "甲"})

    assert [r.status_code for r in (first, again, a, b)] == [201, 201, 201, 201]
    assert first.json()["customer"] == again.json()["customer"]
    assert a.json()["customer"] != b.json()["customer"]


async def test_switched_off_it_refuses_before_anything(
    state: AppState, client: httpx.AsyncClient
) -> None:
    await make_merchant(state, "acme", "Acme")
    state.settings.sandbox_login = False

    r = await client.post(
        "/api/v1/mall/acme/auth/sandbox", json={"name": "x", "phone": "10000000001"}
    )
    page = await client.get("/m/acme/login")

    assert r.status_code == 403 and r.json()["code"] == "sandbox_login_disabled"
    assert 'id="sandbox-form"' not in page.text
    assert await _sessions(state) == 0
