"""Cookie sessions: an unsafe request without the session's CSRF token, or with the token of
an earlier (logged-out) session, is refused with 403 csrf_failed and changes nothing."""

from __future__ import annotations

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.merchants.models import Store
from loopmall.staff.models import Staff
from tests.merchants.conftest import console_login, page_csrf, rows

HTML = {"Accept": "text/html"}
STORE = {"code": "SH001", "name": "静安店"}


async def logout(client: httpx.AsyncClient, csrf: str) -> None:
    r = await client.post("/console/logout", data={"csrf_token": csrf})
    assert r.status_code == 303


async def test_a_form_post_without_a_token_is_refused(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    await console_login(client, "acme", "13800000001")
    r = await client.post("/console/stores/new", data=STORE, headers=HTML)
    assert r.status_code == 403
    assert "csrf_failed" in r.text
    assert await rows(state, Store) == 0


async def test_a_stale_token_from_a_logged_out_session_is_refused(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    stale = await console_login(client, "acme", "13800000001")
    await logout(client, stale)
    fresh = await console_login(client, "acme", "13800000001")
    assert fresh != stale
    r = await client.post("/console/stores/new", data=STORE | {"csrf_token": stale}, headers=HTML)
    assert r.status_code == 403
    assert "csrf_failed" in r.text
    api = await client.post("/api/v1/stores", json=STORE, headers={"X-CSRF-Token": stale})
    assert (api.status_code, api.json()["code"]) == (403, "csrf_failed")
    settings = await client.post(
        "/console/settings",
        data={
            "csrf_token": stale,
            "mall_name": "Hijacked",
            "primary_color": "#000000",
            "accent_color": "#000000",
            "blocks_json": "[]",
        },
        headers=HTML,
    )
    assert settings.status_code == 403
    staff = await client.post(
        "/console/staff/new",
        data={"csrf_token": stale, "name": "X", "phone": "13900000001", "role": "owner"},
        headers=HTML,
    )
    assert staff.status_code == 403
    assert await rows(state, Store) == 0
    assert await rows(state, Staff) == 1
    mall = (await client.get("/api/v1/mall/settings", headers=owner[1])).json()
    assert mall["mall_name"] == "Acme"
    # and the fresh token works
    ok = await client.post("/console/stores/new", data=STORE | {"csrf_token": fresh}, headers=HTML)
    assert ok.status_code == 303
    assert await rows(state, Store) == 1


async def test_json_requests_on_a_cookie_need_the_header(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    await console_login(client, "acme", "13800000001")
    r = await client.patch("/api/v1/staff/stf_0000000000000000", json={"name": "x"})
    assert (r.status_code, r.json()["code"]) == (403, "csrf_failed")
    r = await client.put(
        "/api/v1/mall/settings",
        json={"mall_name": "X", "primary_color": "#000000", "accent_color": "#000000"},
        headers={"X-CSRF-Token": "wrong"},
    )
    assert (r.status_code, r.json()["code"]) == (403, "csrf_failed")
    csrf = await page_csrf(client)
    r = await client.put(
        "/api/v1/mall/settings",
        json={"mall_name": "X", "primary_color": "#000000", "accent_color": "#000000"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200


async def test_after_logout_the_old_cookie_is_dead(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    csrf = await console_login(client, "acme", "13800000001")
    cookie = client.cookies.get("lm_session")
    await logout(client, csrf)
    assert cookie is not None
    client.cookies.set("lm_session", cookie)
    r = await client.get("/console/stores", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=/console/stores"


@pytest.mark.parametrize("path", ["/console/settings", "/console/staff", "/console/stores/new"])
async def test_anonymous_visitors_are_sent_to_login(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path, headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == f"/console/login?next={path}"
