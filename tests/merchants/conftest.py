"""Helpers for the merchants tests: an owner, operators, counting rows, console logins."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.identity.operators import create_operator
from tests.factories import PASSWORD, owner_headers

OPERATOR_EMAIL = "ops@loopmall.dev"


@pytest.fixture
async def owner(state: AppState, client: httpx.AsyncClient) -> tuple[Tenant, dict[str, str]]:
    """Merchant "acme" with an owner (phone 13800000001) and the owner's bearer headers."""
    return await owner_headers(state, client)


async def rows(state: AppState, model: Any, *criteria: Any) -> int:
    """How many rows of ``model`` match."""
    async with UnitOfWork(state.read_factory) as uow:
        stmt = select(func.count()).select_from(model)
        if criteria:
            stmt = stmt.where(*criteria)
        return int(await uow.session.scalar(stmt) or 0)


async def operator_headers(state: AppState, client: httpx.AsyncClient) -> dict[str, str]:
    async with UnitOfWork(state.write_factory) as uow:
        await create_operator(uow.session, email=OPERATOR_EMAIL, name="Ops", password=PASSWORD)
        await uow.commit()
    r = await client.post(
        "/api/v1/platform/auth/token", json={"email": OPERATOR_EMAIL, "password": PASSWORD}
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def console_login(
    client: httpx.AsyncClient, slug: str, phone: str, password: str = PASSWORD
) -> str:
    """Log in through the console's form; the client keeps the cookie. Returns the CSRF token."""
    form = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    r = await client.post(
        "/console/login",
        data={"merchant": slug, "phone": phone, "password": password, "csrf_token": token[1]},
    )
    assert r.status_code == 303, r.text
    return await page_csrf(client)


async def page_csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/console", headers={"Accept": "text/html"})
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert csrf is not None and csrf[1], page.text
    return csrf[1]


async def create_store(
    client: httpx.AsyncClient, headers: dict[str, str], code: str, **fields: Any
) -> dict[str, Any]:
    body = {"code": code, "name": f"Store {code}", **fields}
    r = await client.post("/api/v1/stores", json=body, headers=headers)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result
