"""Staff log in for a bearer token; wrong passwords are counted and throttled."""

from __future__ import annotations

import httpx

from loopmall.core.state import AppState
from tests.factories import PASSWORD, make_merchant, make_staff, token_for


async def test_token_login_and_me(state: AppState, client: httpx.AsyncClient) -> None:
    tenant = await make_merchant(state, "vero")
    await make_staff(state, tenant, phone="13900000000", role="guide", name="小王")
    headers = await token_for(client, "vero", "13900000000")
    me = (await client.get("/api/v1/me", headers=headers)).json()
    assert me["merchant"] == "vero"
    assert me["role"] == "guide"
    assert "inventory.hold" in me["permissions"]
    assert "stores.write" not in me["permissions"]


async def test_wrong_password_is_401_then_throttled(
    state: AppState, client: httpx.AsyncClient
) -> None:
    tenant = await make_merchant(state, "vero")
    await make_staff(state, tenant)
    body = {"merchant": "vero", "phone": "13800000001", "password": "nope"}
    for _ in range(state.settings.login_max_failures):
        r = await client.post("/api/v1/auth/token", json=body)
        assert r.status_code == 401
        assert r.json()["code"] == "invalid_credentials"
    r = await client.post("/api/v1/auth/token", json=body | {"password": PASSWORD})
    assert r.status_code == 429
    assert r.json()["code"] == "login_throttled"
    assert int(r.headers["Retry-After"]) > 0


async def test_revoked_token_no_longer_works(state: AppState, client: httpx.AsyncClient) -> None:
    tenant = await make_merchant(state, "vero")
    await make_staff(state, tenant)
    headers = await token_for(client, "vero", "13800000001")
    assert (await client.delete("/api/v1/auth/token", headers=headers)).status_code == 204
    r = await client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


async def test_no_credentials_is_401(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/me")
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
