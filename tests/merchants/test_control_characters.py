"""Text with control characters (NUL above all, which PostgreSQL refuses) is a 4xx
everywhere it can reach the database, never a 500."""

from __future__ import annotations

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from tests.merchants.conftest import operator_headers


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/stores?q=a%00b", "q"),
        ("/api/v1/stores?city=%00", "city"),
        ("/api/v1/stores/st_%00", "public_id"),
        ("/api/v1/staff?q=%00", "q"),
        ("/api/v1/staff?store=st_%01", "store"),
        ("/api/v1/staff/stf_%00", "public_id"),
    ],
)
async def test_reads(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]], url: str, field: str
) -> None:
    r = await client.get(url, headers=owner[1])
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["field"]) == ("invalid_text", field)


async def test_writes_and_logins(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    headers = owner[1]
    r = await client.post(
        "/api/v1/auth/token", json={"merchant": "acme\x00", "phone": "1", "password": "x"}
    )
    assert r.status_code == 422
    blocks = [{"type": "banner", "title": "t", "link": "https://a\x00b"}]
    r = await client.put(
        "/api/v1/mall/settings",
        json={
            "mall_name": "x",
            "primary_color": "#000000",
            "accent_color": "#000000",
            "blocks": blocks,
        },
        headers=headers,
    )
    assert r.status_code == 422
    r = await client.post(
        "/api/v1/staff",
        json={"phone": "13900000001", "name": "G", "role": "guide", "stores": ["st_\x00"]},
        headers=headers,
    )
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (
        422,
        "invalid_text",
        "stores.0",
    )
    r = await client.post("/api/v1/stores", json={"code": "A\x00", "name": "x"}, headers=headers)
    assert r.status_code == 422
    ops = await operator_headers(state, client)
    r = await client.get("/api/v1/platform/merchants?q=%00", headers=ops)
    assert r.status_code == 422
    r = await client.post("/api/v1/platform/merchants/mch_%00/suspend", headers=ops)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_text")
