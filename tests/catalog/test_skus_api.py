"""SKUs over the API: add to a product, change, deactivate; bad input changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from loopmall.core.state import AppState
from tests.catalog.conftest import Owner, catalog_counts, create_product, picked, sku


async def _sku(client: httpx.AsyncClient, headers: dict[str, str], sku_id: str) -> dict[str, Any]:
    r = await client.get(f"/api/v1/skus/{sku_id}", headers=headers)
    assert r.status_code == 200
    data: dict[str, Any] = r.json()
    return data


async def test_add_a_sku_to_a_product(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    product = await create_product(client, headers)
    url = f"/api/v1/products/{product['id']}/skus"
    body = {"options": {"尺码": "XL", "颜色": "黑"}, "price": 11900, "barcode": "6901234567890"}

    r = await client.post(url, json=body, headers=headers | {"Idempotency-Key": "xl"})
    assert r.status_code == 201, r.text
    added = r.json()
    assert added["options"] == {"颜色": "黑", "尺码": "XL"}  # in option-name order
    assert (added["price"], added["member_price"], added["barcode"]) == (
        11900,
        None,
        "6901234567890",
    )
    assert added["code"] == f"P{product['id'].split('_')[1][:10].upper()}-05"
    assert added["status"] == "active"

    replay = await client.post(url, json=body, headers=headers | {"Idempotency-Key": "xl"})
    assert replay.json() == added
    fetched = (await client.get(f"/api/v1/products/{product['id']}", headers=headers)).json()
    assert [s["id"] for s in fetched["skus"]][-1] == added["id"]
    assert (await catalog_counts(state, tenant))["skus"] == 5


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"options": {"颜色": "黑"}, "price": 1}, "options_mismatch", "options"),
        ({"options": {"颜色": "黑", "尺码": "M"}, "price": 1}, "duplicate_sku_options", "options"),
        (
            {"options": {"颜色": "红", "尺码": "M"}, "price": 1, "code": "TEE-WH-L"},
            "duplicate_sku_code",
            "code",
        ),
    ],
)
async def test_bad_skus_are_refused(
    state: AppState,
    client: httpx.AsyncClient,
    owner: Owner,
    body: dict[str, Any],
    code: str,
    field: str,
) -> None:
    tenant, headers = owner
    product = await create_product(client, headers)
    before = await catalog_counts(state, tenant)
    r = await client.post(f"/api/v1/products/{product['id']}/skus", json=body, headers=headers)
    assert r.status_code == 422
    assert picked(r.json(), "code", "field") == {"code": code, "field": field}
    assert await catalog_counts(state, tenant) == before


async def test_patch_a_sku(client: httpx.AsyncClient, owner: Owner) -> None:
    _tenant, headers = owner
    product = await create_product(client, headers)
    first = product["skus"][0]
    url = f"/api/v1/skus/{first['id']}"

    r = await client.patch(
        url,
        json={
            "price": 8800,
            "member_price": None,
            "code": "TEE-BLACK-M",
            "sales_scope": "store_only",
        },
        headers=headers,
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["price"], changed["member_price"], changed["code"]) == (
        8800,
        None,
        "TEE-BLACK-M",
    )
    assert (changed["sales_scope"], changed["effective_sales_scope"]) == (
        "store_only",
        "store_only",
    )
    assert changed["options"] == first["options"]

    r = await client.patch(
        url, json={"sales_scope": None, "options": {"颜色": "灰", "尺码": "M"}}, headers=headers
    )
    assert (r.json()["sales_scope"], r.json()["effective_sales_scope"]) == (None, "all")
    assert r.json()["options"] == {"颜色": "灰", "尺码": "M"}
    assert await _sku(client, headers, first["id"]) == r.json()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"price": 12.5}, "validation_failed"),
        ({"price": "12"}, "validation_failed"),
        ({"price": -1}, "validation_failed"),
        ({"price": True}, "validation_failed"),
        ({"price": None}, "validation_failed"),
        ({"member_price": 0.5}, "validation_failed"),
        ({"price": 8000}, "validation_failed"),  # below the member price 8900
        ({"member_price": 9901}, "validation_failed"),
        ({"code": "TEE-WH-L"}, "duplicate_sku_code"),
        ({"code": "has space"}, "validation_failed"),
        ({"options": {"颜色": "白", "尺码": "L"}}, "duplicate_sku_options"),
        ({"options": {"颜色": "白"}}, "options_mismatch"),
        ({"status": "deleted"}, "validation_failed"),
    ],
)
async def test_bad_sku_changes_change_nothing(
    client: httpx.AsyncClient, owner: Owner, change: dict[str, Any], code: str
) -> None:
    _tenant, headers = owner
    product = await create_product(client, headers)
    target = product["skus"][0]
    r = await client.patch(f"/api/v1/skus/{target['id']}", json=change, headers=headers)
    assert r.status_code == 422
    assert r.json()["code"] == code
    assert await _sku(client, headers, target["id"]) == target


async def test_deactivate_and_reactivate(client: httpx.AsyncClient, owner: Owner) -> None:
    _tenant, headers = owner
    product = await create_product(client, headers)
    target = product["skus"][1]["id"]
    r = await client.patch(f"/api/v1/skus/{target}", json={"status": "inactive"}, headers=headers)
    assert r.json()["status"] == "inactive"
    # the combination still belongs to that SKU: adding it again is refused
    r = await client.post(
        f"/api/v1/products/{product['id']}/skus",
        json={"options": {"颜色": "黑", "尺码": "L"}, "price": 1},
        headers=headers,
    )
    assert r.json()["code"] == "duplicate_sku_options"
    r = await client.patch(f"/api/v1/skus/{target}", json={"status": "active"}, headers=headers)
    assert r.json()["status"] == "active"


async def test_the_last_sku_of_a_product_on_sale_stays_on_sale(
    client: httpx.AsyncClient, owner: Owner
) -> None:
    _tenant, headers = owner
    product = await create_product(
        client,
        headers,
        {"title": "单品", "status": "active", "skus": [sku({}, 500)]},
    )
    only = product["skus"][0]["id"]
    r = await client.patch(f"/api/v1/skus/{only}", json={"status": "inactive"}, headers=headers)
    assert r.status_code == 422
    assert r.json()["code"] == "no_active_sku"
    assert (await _sku(client, headers, only))["status"] == "active"

    r = await client.patch(
        f"/api/v1/products/{product['id']}", json={"status": "archived"}, headers=headers
    )
    assert r.status_code == 200
    r = await client.patch(f"/api/v1/skus/{only}", json={"status": "inactive"}, headers=headers)
    assert r.json()["status"] == "inactive"


async def test_concurrent_adds_of_one_combination_make_one_sku(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    product = await create_product(client, headers)
    url = f"/api/v1/products/{product['id']}/skus"

    async def add(n: int) -> httpx.Response:
        body = {"options": {"颜色": "红", "尺码": "XL"}, "price": 100 + n}
        return await client.post(url, json=body, headers=headers)

    answers = await asyncio.gather(*(add(n) for n in range(12)))
    codes = sorted((r.status_code, r.json().get("code", "")) for r in answers)
    assert codes == [(201, codes[0][1])] + [(422, "duplicate_sku_options")] * 11
    assert (await catalog_counts(state, tenant))["skus"] == 5


async def test_concurrent_price_settings_leave_one_row(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    product = await create_product(client, headers)
    sku_id = product["skus"][0]["id"]

    async def put(n: int) -> httpx.Response:
        body = {"channel": "wechat", "price": 5000 + n}
        return await client.put(f"/api/v1/skus/{sku_id}/prices", json=body, headers=headers)

    answers = await asyncio.gather(*(put(n) for n in range(12)))
    assert {r.status_code for r in answers} == {200}
    assert (await catalog_counts(state, tenant))["channel_prices"] == 1
    final = (await _sku(client, headers, sku_id))["prices"]
    assert len(final) == 1 and 5000 <= final[0]["price"] < 5012
