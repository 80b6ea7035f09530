"""Mall settings over the API: name, colours, cash on delivery and typed home page blocks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from tests.factories import make_staff, token_for

SETTINGS: dict[str, Any] = {
    "mall_name": "Acme 微商城",
    "primary_color": "#0A7A3B",
    "accent_color": "#ffcc00",
    "cod_enabled": True,
    "blocks": [
        {"type": "banner", "title": "春季上新", "image_url": "/uploads/x.png", "link": "/p/1"},
        {"type": "product_grid", "title": "热卖", "limit": 6},
        {"type": "product_grid", "title": "水果", "category_id": "cat_0123456789abcdef"},
        {"type": "coupon_strip", "title": "领券"},
        {"type": "article", "title": "我们的故事", "body": "一九九八年…\n第二段"},
        {"type": "store_locator", "title": "附近门店"},
    ],
}


async def test_owner_replaces_the_settings_and_reads_them_back(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    r = await client.put("/api/v1/mall/settings", json=SETTINGS, headers=headers)
    assert r.status_code == 200, r.text
    got = (await client.get("/api/v1/mall/settings", headers=headers)).json()
    assert got["mall_name"] == "Acme 微商城"
    assert (got["primary_color"], got["accent_color"]) == ("#0a7a3b", "#ffcc00")
    assert got["cod_enabled"] is True
    assert got["blocks"] == [
        {"type": "banner", "title": "春季上新", "image_url": "/uploads/x.png", "link": "/p/1"},
        {"type": "product_grid", "title": "热卖", "category_id": None, "limit": 6},
        {
            "type": "product_grid",
            "title": "水果",
            "category_id": "cat_0123456789abcdef",
            "limit": 8,
        },
        {"type": "coupon_strip", "title": "领券"},
        {"type": "article", "title": "我们的故事", "body": "一九九八年…\n第二段"},
        {"type": "store_locator", "title": "附近门店"},
    ]


async def test_a_merchant_without_saved_settings_reads_the_defaults(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    got = (await client.get("/api/v1/mall/settings", headers=headers)).json()
    assert got["mall_name"] == "Acme"
    assert got["primary_color"] == "#e4393c"
    assert [b["type"] for b in got["blocks"]] == ["banner", "product_grid", "coupon_strip"]


def _with(**changes: Any) -> dict[str, Any]:
    return SETTINGS | changes


BAD = [
    pytest.param(_with(primary_color="red"), "primary_color", id="named-colour"),
    pytest.param(_with(primary_color="#12345"), "primary_color", id="short-colour"),
    pytest.param(_with(accent_color="#gggggg"), "accent_color", id="not-hex"),
    pytest.param(_with(mall_name=""), "mall_name", id="empty-name"),
    pytest.param(_with(cod_enabled="maybe"), "cod_enabled", id="cod-not-bool"),
    pytest.param(_with(blocks=[{"type": "video", "title": "x"}]), "blocks", id="unknown-type"),
    pytest.param(_with(blocks=[{"title": "x"}]), "blocks", id="no-type"),
    pytest.param(
        _with(blocks=[{"type": "product_grid", "title": "x", "limit": 41}]),
        "blocks",
        id="limit-41",
    ),
    pytest.param(
        _with(blocks=[{"type": "product_grid", "title": "x", "limit": 0}]),
        "blocks",
        id="limit-0",
    ),
    pytest.param(
        _with(blocks=[{"type": "product_grid", "title": "x", "limit": "8"}]),
        "blocks",
        id="limit-string",
    ),
    pytest.param(
        _with(blocks=[{"type": "banner", "title": "x", "link": "javascript:alert(1)"}]),
        "blocks",
        id="script-link",
    ),
    pytest.param(
        _with(blocks=[{"type": "coupon_strip", "title": "x", "body": "y"}]),
        "blocks",
        id="field-of-other-type",
    ),
    pytest.param(_with(blocks=[{"type": "article", "title": " "}]), "blocks", id="blank-title"),
    pytest.param(
        _with(blocks=[{"type": "coupon_strip", "title": str(i)} for i in range(31)]),
        "blocks",
        id="31-blocks",
    ),
    pytest.param(_with(logo_url="/x.png"), "logo_url", id="unknown-field"),
]


@pytest.mark.parametrize(("body", "field"), BAD)
async def test_bad_settings_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]], body: Any, field: str
) -> None:
    _tenant, headers = owner
    before = (await client.get("/api/v1/mall/settings", headers=headers)).json()
    r = await client.put("/api/v1/mall/settings", json=body, headers=headers)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"][0]["loc"][:2] == ["body", field]
    assert (await client.get("/api/v1/mall/settings", headers=headers)).json() == before


async def test_managers_read_but_only_owners_change_settings(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, _headers = owner
    await make_staff(state, tenant, phone="13800000002", role="manager", name="Mgr")
    manager = await token_for(client, "acme", "13800000002")
    assert (await client.get("/api/v1/mall/settings", headers=manager)).status_code == 200
    r = await client.put("/api/v1/mall/settings", json=SETTINGS, headers=manager)
    assert r.status_code == 403
    got = (await client.get("/api/v1/mall/settings", headers=manager)).json()
    assert got["mall_name"] == "Acme"


async def test_settings_belong_to_one_merchant(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    await client.put("/api/v1/mall/settings", json=SETTINGS, headers=headers)
    from tests.factories import make_merchant

    other = await make_merchant(state, "other", "Other")
    await make_staff(state, other)
    theirs = await token_for(client, "other", "13800000001")
    got = (await client.get("/api/v1/mall/settings", headers=theirs)).json()
    assert got["mall_name"] == "Other"
    assert got["cod_enabled"] is False
