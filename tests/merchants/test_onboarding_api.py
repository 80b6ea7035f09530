"""Opening a merchant through the public API: what it makes, idempotency, every bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loopmall.core.models import OutboxEvent
from loopmall.core.state import AppState
from loopmall.merchants.models import MallSettings, Merchant, Store
from loopmall.staff.models import Staff
from tests.factories import token_for
from tests.merchants.conftest import rows

FRUIT = {
    "name": "王记水果",
    "slug": "wang-fruit",
    "owner_name": "王阿姨",
    "owner_phone": "139 1234 5678",
    "owner_password": "apples-and-pears",
}


async def signup(client: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    return await client.post("/api/v1/merchants", json=FRUIT | overrides)


async def test_a_fruit_stall_opens_with_no_store_and_its_owner_logs_in(
    state: AppState, client: httpx.AsyncClient
) -> None:
    r = await signup(client)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["merchant"]["slug"] == "wang-fruit"
    assert body["merchant"]["name"] == "王记水果"
    assert body["merchant"]["status"] == "active"
    assert body["merchant"]["id"].startswith("mch_")
    assert body["owner_id"].startswith("stf_")

    headers = await token_for(client, "wang-fruit", "13912345678", "apples-and-pears")
    me = (await client.get("/api/v1/me", headers=headers)).json()
    assert (me["role"], me["merchant"], me["name"]) == ("owner", "wang-fruit", "王阿姨")

    mall = (await client.get("/api/v1/mall/settings", headers=headers)).json()
    assert mall["mall_name"] == "王记水果"
    assert (mall["primary_color"], mall["accent_color"]) == ("#e4393c", "#222222")
    assert [b["type"] for b in mall["blocks"]] == ["banner", "product_grid", "coupon_strip"]
    assert mall["logo_url"] is None
    assert await rows(state, Store) == 0
    assert await rows(state, MallSettings) == 1
    assert await rows(state, OutboxEvent, OutboxEvent.topic == "merchant.onboarded") == 1


async def test_signup_with_the_same_idempotency_key_replays(
    state: AppState, client: httpx.AsyncClient
) -> None:
    key = {"Idempotency-Key": "signup-1"}
    first = await client.post("/api/v1/merchants", json=FRUIT, headers=key)
    again = await client.post("/api/v1/merchants", json=FRUIT, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await client.post("/api/v1/merchants", json=FRUIT | {"slug": "li-fruit"}, headers=key)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert await rows(state, Merchant) == 1
    assert await rows(state, Staff) == 1


async def test_slug_is_lowercased(client: httpx.AsyncClient) -> None:
    r = await signup(client, slug="  Wang-Fruit ")
    assert r.status_code == 201
    assert r.json()["merchant"]["slug"] == "wang-fruit"


@pytest.mark.parametrize(
    ("slug", "code"),
    [
        ("ab", "invalid_slug"),
        ("a" * 41, "invalid_slug"),
        ("wang fruit", "invalid_slug"),
        ("-wang", "invalid_slug"),
        ("wang-", "invalid_slug"),
        ("wang--fruit", "invalid_slug"),
        ("wang_fruit", "invalid_slug"),
        ("王记", "invalid_slug"),
        ("console", "reserved_slug"),
        ("api", "reserved_slug"),
        ("static", "reserved_slug"),
        ("Admin", "reserved_slug"),
    ],
)
async def test_bad_slugs_are_refused_and_nothing_is_made(
    state: AppState, client: httpx.AsyncClient, slug: str, code: str
) -> None:
    r = await signup(client, slug=slug)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert (r.json()["code"], r.json()["field"]) == (code, "slug")
    assert await rows(state, Merchant) == 0
    assert await rows(state, Staff) == 0
    assert await rows(state, OutboxEvent) == 0


async def test_a_taken_slug_is_409_and_the_first_merchant_is_untouched(
    state: AppState, client: httpx.AsyncClient
) -> None:
    assert (await signup(client)).status_code == 201
    r = await signup(client, name="Another", owner_phone="13700000000")
    assert r.status_code == 409
    assert r.json()["code"] == "slug_taken"
    assert await rows(state, Merchant) == 1
    assert await rows(state, Staff) == 1
    assert await rows(state, MallSettings) == 1


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("owner_phone", "12345", "invalid_phone"),
        ("owner_phone", "23912345678", "invalid_phone"),
        ("owner_phone", "139123456789", "invalid_phone"),
        ("owner_password", "short", "weak_password"),
        ("name", "   ", "validation_failed"),
        ("owner_name", "", "validation_failed"),
    ],
)
async def test_bad_owner_details_are_refused(
    state: AppState, client: httpx.AsyncClient, field: str, value: str, code: str
) -> None:
    r = await signup(client, **{field: value})
    assert r.status_code == 422
    assert (r.json()["code"], r.json()["field"]) == (code, field)
    assert await rows(state, Merchant) == 0


async def test_missing_and_unknown_fields_are_refused(
    state: AppState, client: httpx.AsyncClient
) -> None:
    missing = {k: v for k, v in FRUIT.items() if k != "owner_password"}
    r = await client.post("/api/v1/merchants", json=missing)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    r = await client.post("/api/v1/merchants", json=FRUIT | {"status": "suspended"})
    assert r.status_code == 422
    assert await rows(state, Merchant) == 0
