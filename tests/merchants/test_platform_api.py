"""Platform operators list merchants and suspend or reactivate them."""

from __future__ import annotations

import httpx

from loopmall.core.models import OutboxEvent
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.merchants.models import Merchant
from tests.factories import PASSWORD, make_merchant, make_staff, token_for
from tests.merchants.conftest import operator_headers, rows


async def public_id(client: httpx.AsyncClient, ops: dict[str, str], slug: str) -> str:
    page = (await client.get("/api/v1/platform/merchants", params={"q": slug}, headers=ops)).json()
    (found,) = [m for m in page["items"] if m["slug"] == slug]
    return str(found["id"])


async def test_operators_page_through_every_merchant(
    state: AppState, client: httpx.AsyncClient
) -> None:
    for slug in ("alpha", "bravo", "charlie"):
        await make_merchant(state, slug, slug.title())
    ops = await operator_headers(state, client)
    first = (await client.get("/api/v1/platform/merchants?limit=2", headers=ops)).json()
    assert [m["slug"] for m in first["items"]] == ["alpha", "bravo"]
    assert first["next_cursor"]
    second = (
        await client.get(
            "/api/v1/platform/merchants",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=ops,
        )
    ).json()
    assert [m["slug"] for m in second["items"]] == ["charlie"]
    assert second["next_cursor"] is None
    found = (await client.get("/api/v1/platform/merchants?q=RAV", headers=ops)).json()
    assert [m["slug"] for m in found["items"]] == ["bravo"]


async def test_suspending_a_merchant_ends_its_staffs_access_until_reactivated(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, staff_headers = owner
    other = await make_merchant(state, "other")
    await make_staff(state, other)
    other_headers = await token_for(client, "other", "13800000001")
    ops = await operator_headers(state, client)
    acme = await public_id(client, ops, "acme")

    r = await client.post(f"/api/v1/platform/merchants/{acme}/suspend", headers=ops)
    assert r.status_code == 200
    assert r.json()["status"] == "suspended"
    assert (await client.get("/api/v1/me", headers=staff_headers)).status_code == 401
    login = await client.post(
        "/api/v1/auth/token",
        json={"merchant": "acme", "phone": "13800000001", "password": PASSWORD},
    )
    assert login.status_code == 401
    # the other merchant is not affected
    assert (await client.get("/api/v1/me", headers=other_headers)).status_code == 200
    listed = (await client.get("/api/v1/platform/merchants?status=suspended", headers=ops)).json()
    assert [m["slug"] for m in listed["items"]] == ["acme"]

    twice = await client.post(f"/api/v1/platform/merchants/{acme}/suspend", headers=ops)
    assert twice.status_code == 409
    assert twice.json()["code"] == "illegal_transition"

    back = await client.post(f"/api/v1/platform/merchants/{acme}/reactivate", headers=ops)
    assert back.status_code == 200
    assert back.json()["status"] == "active"
    assert (await client.get("/api/v1/me", headers=staff_headers)).status_code == 200
    topics = {
        "merchant.suspended": await rows(
            state, OutboxEvent, OutboxEvent.topic == "merchant.suspended"
        ),
        "merchant.reactivated": await rows(
            state, OutboxEvent, OutboxEvent.topic == "merchant.reactivated"
        ),
    }
    assert topics == {"merchant.suspended": 1, "merchant.reactivated": 1}


async def test_reactivating_an_active_merchant_is_409(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    ops = await operator_headers(state, client)
    acme = await public_id(client, ops, "acme")
    r = await client.post(f"/api/v1/platform/merchants/{acme}/reactivate", headers=ops)
    assert r.status_code == 409
    assert await rows(state, Merchant, Merchant.status == "active") == 1


async def test_unknown_merchant_is_404(state: AppState, client: httpx.AsyncClient) -> None:
    ops = await operator_headers(state, client)
    r = await client.post("/api/v1/platform/merchants/mch_nope/suspend", headers=ops)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


async def test_staff_cannot_use_platform_routes_and_operators_cannot_use_merchant_routes(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, staff_headers = owner
    ops = await operator_headers(state, client)
    r = await client.get("/api/v1/platform/merchants", headers=staff_headers)
    assert r.status_code == 403
    acme = await public_id(client, ops, "acme")
    r = await client.post(f"/api/v1/platform/merchants/{acme}/suspend", headers=staff_headers)
    assert r.status_code == 403
    assert await rows(state, Merchant, Merchant.status == "active") == 1
    assert (await client.get("/api/v1/mall/settings", headers=ops)).status_code == 403
    assert (await client.get("/api/v1/platform/merchants")).status_code == 401
