"""Who may do what: another merchant's ids are 404 everywhere; a guide reads but never
writes the catalog."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loopmall.core.state import AppState
from tests.catalog.conftest import (
    Owner,
    catalog_counts,
    create_product,
    guide_headers,
    image_bytes,
    make_store,
    picked,
    tee_payload,
)


@pytest.fixture
async def theirs(state: AppState, client: httpx.AsyncClient, rival: Owner) -> dict[str, str]:
    """Ids belonging to the rival merchant: a product, its SKU, a category, an image, a store."""
    tenant, headers = rival
    category = (
        await client.post("/api/v1/categories", json={"name": "对手"}, headers=headers)
    ).json()
    product = await create_product(client, headers, tee_payload(category=category["id"]))
    image = (
        await client.post(
            f"/api/v1/products/{product['id']}/images",
            files={"file": ("a.png", image_bytes(), "image/png")},
            headers=headers,
        )
    ).json()
    store = await make_store(state, tenant, "R1", "对手门店")
    return {
        "product": product["id"],
        "sku": product["skus"][0]["id"],
        "category": category["id"],
        "image": image["id"],
        "store": store,
    }


def foreign_requests(t: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    image = image_bytes()
    return [
        ("GET", f"/api/v1/products/{t['product']}", {}),
        ("PATCH", f"/api/v1/products/{t['product']}", {"json": {"title": "mine"}}),
        (
            "POST",
            f"/api/v1/products/{t['product']}/skus",
            {"json": {"options": {"颜色": "红", "尺码": "S"}, "price": 1}},
        ),
        (
            "POST",
            f"/api/v1/products/{t['product']}/images",
            {"files": {"file": ("a.png", image, "image/png")}},
        ),
        ("DELETE", f"/api/v1/products/{t['product']}/images/{t['image']}", {}),
        (
            "PUT",
            f"/api/v1/products/{t['product']}/images/order",
            {"json": {"images": [t["image"]]}},
        ),
        ("GET", f"/api/v1/skus/{t['sku']}", {}),
        ("PATCH", f"/api/v1/skus/{t['sku']}", {"json": {"price": 1}}),
        ("PUT", f"/api/v1/skus/{t['sku']}/prices", {"json": {"channel": "wechat", "price": 1}}),
        ("DELETE", f"/api/v1/skus/{t['sku']}/prices?channel=online", {}),
        ("GET", f"/api/v1/skus/{t['sku']}/quote?channel=online", {}),
        ("PATCH", f"/api/v1/categories/{t['category']}", {"json": {"name": "mine"}}),
        ("POST", "/api/v1/categories", {"json": {"name": "mine", "parent": t["category"]}}),
        ("POST", "/api/v1/products", {"json": tee_payload(category=t["category"])}),
        ("GET", f"/api/v1/products?category={t['category']}", {}),
    ]


async def test_another_merchants_ids_are_not_found(
    state: AppState,
    client: httpx.AsyncClient,
    owner: Owner,
    rival: Owner,
    theirs: dict[str, str],
) -> None:
    tenant, headers = owner
    rival_tenant, rival_headers = rival
    rival_before = await catalog_counts(state, rival_tenant)
    theirs_before = (
        await client.get(f"/api/v1/products/{theirs['product']}", headers=rival_headers)
    ).json()

    for method, url, kwargs in foreign_requests(theirs):
        r = await client.request(method, url, headers=headers, **kwargs)
        assert r.status_code == 404, (method, url, r.text)
        assert r.json()["code"] == "not_found"
        assert "对手" not in r.text and "纯棉" not in r.text

    assert await catalog_counts(state, tenant) == dict.fromkeys(rival_before, 0)
    assert await catalog_counts(state, rival_tenant) == rival_before
    after = (
        await client.get(f"/api/v1/products/{theirs['product']}", headers=rival_headers)
    ).json()
    assert after == theirs_before
    # and the merchant's own list shows none of it
    assert (await client.get("/api/v1/products", headers=headers)).json()["items"] == []
    assert (await client.get("/api/v1/categories", headers=headers)).json() == []


async def test_a_guide_reads_but_cannot_write(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    store = await make_store(state, tenant, "S1", "门店")
    product = await create_product(client, headers)
    sku_id = product["skus"][0]["id"]
    guide = await guide_headers(state, client, tenant)

    assert (await client.get(f"/api/v1/products/{product['id']}", headers=guide)).json() == product
    assert (await client.get("/api/v1/products", headers=guide)).status_code == 200
    r = await client.get(f"/api/v1/skus/{sku_id}/quote?channel=store&store={store}", headers=guide)
    assert r.json()["amount"] == 9900

    before = await catalog_counts(state, tenant)
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/v1/products", {"json": tee_payload()}),
        ("PATCH", f"/api/v1/products/{product['id']}", {"json": {"title": "改"}}),
        (
            "POST",
            f"/api/v1/products/{product['id']}/skus",
            {"json": {"options": {"颜色": "红", "尺码": "S"}, "price": 1}},
        ),
        (
            "POST",
            f"/api/v1/products/{product['id']}/images",
            {"files": {"file": ("a.png", image_bytes(), "image/png")}},
        ),
        ("PATCH", f"/api/v1/skus/{sku_id}", {"json": {"price": 1}}),
        ("PUT", f"/api/v1/skus/{sku_id}/prices", {"json": {"channel": "wechat", "price": 1}}),
        ("DELETE", f"/api/v1/skus/{sku_id}/prices?channel=wechat", {}),
        ("POST", "/api/v1/categories", {"json": {"name": "新"}}),
    ]
    for method, url, kwargs in writes:
        r = await client.request(method, url, headers=guide, **kwargs)
        assert r.status_code == 403, (method, url, r.text)
        assert picked(r.json(), "code", "permission") == {
            "code": "forbidden",
            "permission": "catalog.write",
        }
    assert await catalog_counts(state, tenant) == before
    assert (
        await client.get(f"/api/v1/products/{product['id']}", headers=headers)
    ).json() == product


async def test_without_a_token_nothing_is_readable(client: httpx.AsyncClient, owner: Owner) -> None:
    _tenant, headers = owner
    product = await create_product(client, headers)
    for url in ("/api/v1/products", f"/api/v1/products/{product['id']}", "/api/v1/categories"):
        r = await client.get(url)
        assert r.status_code == 401
