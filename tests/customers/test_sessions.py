"""Shopper sessions: sandbox login, bearer and cookie, CSRF, one mall per session."""

from __future__ import annotations

import httpx

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Consumer, Customer
from loopmall.customers.service import cookie_name, csrf_for, sandbox_login
from tests.factories import make_merchant


async def _login(state: AppState, tenant, **kw):  # type: ignore[no-untyped-def]
    async with UnitOfWork(state.write_factory) as uow:
        customer, token = await sandbox_login(uow.session, tenant, **kw)
        await uow.commit()
    return customer, token


async def test_sandbox_login_gives_a_bearer_token(
    state: AppState, client: httpx.AsyncClient
) -> None:
    tenant = await make_merchant(state, "acme")
    customer, token = await _login(state, tenant, name="Alice")
    r = await client.get("/api/v1/mall/acme/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.json()["customer"] == customer.public_id
    assert r.json()["name"] == "Alice"


async def test_missing_or_bad_token_is_401(state: AppState, client: httpx.AsyncClient) -> None:
    await make_merchant(state, "acme")
    r = await client.get("/api/v1/mall/acme/auth/me")
    assert r.status_code == 401
    assert r.json()["code"] == "shopper_unauthorized"
    assert r.json()["login_url"].startswith("/m/acme/login?next=")
    r = await client.get("/api/v1/mall/acme/auth/me", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


async def test_a_session_is_for_one_mall(state: AppState, client: httpx.AsyncClient) -> None:
    acme = await make_merchant(state, "acme")
    await make_merchant(state, "other", "Other")
    _, token = await _login(state, acme, name="Alice", phone="13900000001")
    r = await client.get("/api/v1/mall/other/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    client.cookies.set(cookie_name(state.settings, "acme"), token)
    assert (await client.get("/api/v1/mall/acme/auth/me")).status_code == 200
    assert (await client.get("/api/v1/mall/other/auth/me")).status_code == 401


async def test_same_phone_is_one_consumer_and_one_customer_per_merchant(state: AppState) -> None:
    acme = await make_merchant(state, "acme")
    other = await make_merchant(state, "other", "Other")
    a1, _ = await _login(state, acme, name="A", phone="13900000002")
    a2, _ = await _login(state, acme, name="A", phone="13900000002")
    b1, _ = await _login(state, other, name="A", phone="13900000002")
    assert a1.id == a2.id
    assert a1.consumer_id == b1.consumer_id
    assert a1.id != b1.id and b1.merchant_id == other.id
    async with UnitOfWork(state.read_factory) as uow:
        from sqlalchemy import func, select

        assert await uow.session.scalar(select(func.count()).select_from(Consumer)) == 1
        assert await uow.session.scalar(select(func.count()).select_from(Customer)) == 2


async def test_cookie_logout_needs_csrf(state: AppState, client: httpx.AsyncClient) -> None:
    tenant = await make_merchant(state, "acme")
    _, token = await _login(state, tenant, name="Alice")
    client.cookies.set(cookie_name(state.settings, "acme"), token)
    r = await client.delete("/api/v1/mall/acme/auth/token")
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    async with UnitOfWork(state.read_factory) as uow:
        csrf = await csrf_for(uow.session, tenant, token)
    r = await client.delete("/api/v1/mall/acme/auth/token", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert (await client.get("/api/v1/mall/acme/auth/me")).status_code == 401


async def test_sandbox_api_login_can_be_switched_off(
    state: AppState, client: httpx.AsyncClient
) -> None:
    await make_merchant(state, "acme")
    r = await client.post("/api/v1/mall/acme/auth/sandbox", json={"name": "Bob"})
    assert r.status_code == 201, r.text
    token = r.json()["access_token"]
    r = await client.get("/api/v1/mall/acme/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.json()["name"] == "Bob"
    state.settings.sandbox_login = False
    r = await client.post("/api/v1/mall/acme/auth/sandbox", json={"name": "Bob"})
    assert r.status_code == 403 and r.json()["code"] == "sandbox_login_disabled"
    r = await client.post("/api/v1/mall/nope/auth/sandbox", json={"name": "Bob"})
    assert r.status_code == 403


async def test_old_sessions_are_purged(
    state: AppState, client: httpx.AsyncClient, frozen_clock
) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from loopmall.customers.jobs import purge

    tenant = await make_merchant(state, "acme")
    async with UnitOfWork(state.write_factory) as uow:
        await sandbox_login(uow.session, tenant, name="Old", ttl=timedelta(days=1))
        await uow.commit()
    _, fresh = await _login(state, tenant, name="New")
    assert await purge(state) == 0
    frozen_clock.advance(days=9)
    assert await purge(state) == 1
    r = await client.get("/api/v1/mall/acme/auth/me", headers={"Authorization": f"Bearer {fresh}"})
    assert r.status_code == 200


async def test_each_merchant_lists_only_its_own_customers(
    state: AppState, client: httpx.AsyncClient
) -> None:
    from tests.factories import owner_headers

    acme, acme_staff = await owner_headers(state, client, "acme")
    other = await make_merchant(state, "other", "Other")
    mine, _ = await _login(state, acme, name="A", phone="13900000007")
    theirs, _ = await _login(state, other, name="A", phone="13900000007")
    await _login(state, other, name="B")
    r = await client.get("/api/v1/customers", headers=acme_staff)
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()["items"]] == [mine.public_id]
    assert theirs.public_id not in r.text
    r = await client.get("/api/v1/customers?limit=0", headers=acme_staff)
    assert r.status_code == 422


async def test_concurrent_first_logins_with_one_phone_make_one_person(state: AppState) -> None:
    import asyncio

    from sqlalchemy import func, select

    acme = await make_merchant(state, "acme")
    results = await asyncio.gather(
        *(_login(state, acme, name=f"P{i}", phone="13900000099") for i in range(4))
    )
    assert len({c.id for c, _ in results}) == 1
    async with UnitOfWork(state.read_factory) as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Consumer)) == 1
        assert await uow.session.scalar(select(func.count()).select_from(Customer)) == 1
