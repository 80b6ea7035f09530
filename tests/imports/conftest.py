"""Helpers for import tests: upload a file, count what a merchant has."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.imports.models import ImportJob
from loopmall.merchants.models import Store
from loopmall.staff.models import Staff, StaffStore
from tests.factories import PASSWORD, owner_headers


async def upload(
    client: httpx.AsyncClient,
    path: str,
    data: bytes,
    headers: dict[str, str],
    filename: str = "upload.csv",
) -> httpx.Response:
    return await client.post(path, files={"file": (filename, data, "text/csv")}, headers=headers)


async def count(state: AppState, model: Any, tenant: Tenant) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        stmt = select(func.count()).select_from(model).where(model.merchant_id == tenant.id)
        return int(await uow.session.scalar(stmt) or 0)


async def counts(state: AppState, tenant: Tenant) -> dict[str, int]:
    """Stores, staff (the owner included), assignments and import history rows."""
    return {
        "stores": await count(state, Store, tenant),
        "staff": await count(state, Staff, tenant),
        "assignments": await count(state, StaffStore, tenant),
        "jobs": await count(state, ImportJob, tenant),
    }


async def stores_by_code(state: AppState, tenant: Tenant) -> dict[str, Store]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.scalars(select(Store).where(Store.merchant_id == tenant.id))
        return {s.code: s for s in rows}


async def staff_by_phone(state: AppState, tenant: Tenant) -> dict[str, tuple[Staff, list[str]]]:
    """Each staff member with the codes of their stores, sorted."""
    async with UnitOfWork(state.read_factory) as uow:
        people = list(
            await uow.session.scalars(select(Staff).where(Staff.merchant_id == tenant.id))
        )
        pairs = await uow.session.execute(
            select(StaffStore.staff_id, Store.code)
            .join(Store, Store.id == StaffStore.store_id)
            .where(StaffStore.merchant_id == tenant.id)
        )
        codes: dict[int, list[str]] = {}
        for staff_id, code in pairs:
            codes.setdefault(staff_id, []).append(code)
        return {p.phone: (p, sorted(codes.get(p.id, []))) for p in people}


@pytest.fixture
async def owner(state: AppState, client: httpx.AsyncClient) -> tuple[Tenant, dict[str, str]]:
    """Merchant "acme" with an owner (phone 13800000001) and the owner's bearer headers."""
    return await owner_headers(state, client)


async def console_login(
    client: httpx.AsyncClient, slug: str, phone: str, password: str = PASSWORD
) -> str:
    """Log in through the console's login form; the client keeps the session cookie.

    Returns the session's CSRF token as the pages embed it.
    """
    form = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    r = await client.post(
        "/console/login",
        data={"merchant": slug, "phone": phone, "password": password, "csrf_token": token[1]},
    )
    assert r.status_code == 303, r.text
    page = await client.get("/console", headers={"Accept": "text/html"})
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert csrf is not None
    return csrf[1]
