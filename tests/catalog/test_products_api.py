"""Products over the API: create with SKUs, read, list with filters, change; bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import event, text

from loopmall.catalog import service
from loopmall.core.pagination import encode_cursor
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from tests.catalog.conftest import (
    Owner,
    catalog_counts,
    create_product,
    image_bytes,
    picked,
    sku,
    tee_payload,
)

NOTHING = {
    "categories": 0,
    "products": 0,
    "product_tags": 0,
    "skus": 0,
    "channel_prices": 0,
    "product_images": 0,
}


async def test_create_product_with_skus_and_read_it_back(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    created = await create_product(client, headers)

    assert created["id"].startswith("prd_")
    assert created["title"] == "纯棉T恤"
    assert created["subtitle"] == "夏季新款"
    assert created["tags"] == ["新品", "夏季"]
    assert created["status"] == "active"
    assert created["sales_scope"] == "all"
    assert created["option_names"] == ["颜色", "尺码"]
    assert created["category"] is None
    assert created["images"] == []
    assert [
        (s["code"], s["options"], s["price"], s["member_price"], s["status"])
        for s in created["skus"]
    ] == [
        ("TEE-BK-M", {"颜色": "黑", "尺码": "M"}, 9900, 8900, "active"),
        ("TEE-BK-L", {"颜色": "黑", "尺码": "L"}, 9900, None, "active"),
        ("TEE-WH-M", {"颜色": "白", "尺码": "M"}, 10900, None, "active"),
        ("TEE-WH-L", {"颜色": "白", "尺码": "L"}, 10900, None, "active"),
    ]
    assert all(s["product"] == created["id"] and s["prices"] == [] for s in created["skus"])

    fetched = await client.get(f"/api/v1/products/{created['id']}", headers=headers)
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert await catalog_counts(state, tenant) == NOTHING | {
        "products": 1,
        "product_tags": 2,
        "skus": 4,
    }


async def test_sku_codes_are_generated_when_omitted(
    client: httpx.AsyncClient, owner: Owner
) -> None:
    _tenant, headers = owner
    body = tee_payload()
    for s in body["skus"]:
        del s["code"]
    first = await create_product(client, headers, body)
    second = await create_product(client, headers, body)

    codes = [s["code"] for p in (first, second) for s in p["skus"]]
    assert len(set(codes)) == 8
    suffix = first["id"].split("_")[1][:10].upper()
    assert [s["code"] for s in first["skus"]] == [f"P{suffix}-0{i}" for i in range(1, 5)]


async def test_a_product_without_options_has_one_plain_sku(
    client: httpx.AsyncClient, owner: Owner
) -> None:
    _tenant, headers = owner
    body = {"title": "煎饼果子", "skus": [{"price": 800}]}
    created = await create_product(client, headers, body)
    assert created["option_names"] == []
    assert created["status"] == "draft"
    assert [(s["options"], s["price"]) for s in created["skus"]] == [({}, 800)]


async def test_create_is_idempotent_with_a_key(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    keyed = headers | {"Idempotency-Key": "create-tee-1"}
    first = await client.post("/api/v1/products", json=tee_payload(), headers=keyed)
    again = await client.post("/api/v1/products", json=tee_payload(), headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"

    other = await client.post("/api/v1/products", json=tee_payload(title="别的"), headers=keyed)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert (await catalog_counts(state, tenant))["products"] == 1


@pytest.mark.parametrize("bad", [12.5, "12", -1, True, None, 1_000_000_001, 99.0])
@pytest.mark.parametrize("field", ["price", "member_price"])
async def test_prices_must_be_whole_non_negative_fen(
    state: AppState, client: httpx.AsyncClient, owner: Owner, field: str, bad: Any
) -> None:
    tenant, headers = owner
    body = tee_payload()
    body["skus"][1][field] = bad
    if field == "member_price" and bad is None:
        body["skus"][1]["member_price"] = -5
    r = await client.post("/api/v1/products", json=body, headers=headers)
    assert r.status_code == 422
    problem = r.json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"][0]["loc"][:4] == ["body", "skus", "1", field]
    assert await catalog_counts(state, tenant) == NOTHING


async def test_member_price_above_price_is_refused(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    body = tee_payload()
    body["skus"][0]["member_price"] = 9901
    r = await client.post("/api/v1/products", json=body, headers=headers)
    assert r.status_code == 422
    assert "member_price must not be above price" in r.json()["detail"]
    assert await catalog_counts(state, tenant) == NOTHING


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"颜色": "黑"}, "missing 尺码"),
        ({"颜色": "黑", "尺码": "XL", "材质": "棉"}, "extra option"),
        ({"colour": "黑", "尺码": "XL"}, "wrong name"),
        ({}, "no options"),
    ],
)
async def test_sku_options_must_match_the_option_names(
    state: AppState, client: httpx.AsyncClient, owner: Owner, options: dict[str, str], why: str
) -> None:
    tenant, headers = owner
    body = tee_payload()
    body["skus"][2]["options"] = options
    r = await client.post("/api/v1/products", json=body, headers=headers)
    assert r.status_code == 422, why
    problem = r.json()
    assert problem["code"] == "options_mismatch"
    assert problem["field"] == "skus.2.options"
    assert problem["option_names"] == ["颜色", "尺码"]
    assert await catalog_counts(state, tenant) == NOTHING


async def test_two_skus_with_the_same_options_are_refused(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    body = tee_payload()
    body["skus"][3]["options"] = {"尺码": "M", "颜色": "黑"}  # same as SKU 1, other key order
    r = await client.post("/api/v1/products", json=body, headers=headers)
    assert r.status_code == 422
    assert r.json()["code"] == "duplicate_sku_options"
    assert r.json()["field"] == "skus.3.options"
    assert await catalog_counts(state, tenant) == NOTHING


async def test_duplicate_sku_codes_are_refused(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    body = tee_payload()
    body["skus"][2]["code"] = "TEE-BK-M"
    r = await client.post("/api/v1/products", json=body, headers=headers)
    assert r.status_code == 422
    assert picked(r.json(), "code", "field", "sku_code") == {
        "code": "duplicate_sku_code",
        "field": "skus.2.code",
        "sku_code": "TEE-BK-M",
    }
    assert await catalog_counts(state, tenant) == NOTHING

    await create_product(client, headers)
    before = await catalog_counts(state, tenant)
    other = tee_payload(title="另一件")
    other["skus"][3]["code"] = "TEE-WH-M"  # taken by the first product
    for s in other["skus"][:3]:
        s["code"] = s["code"] + "-2"
    r = await client.post("/api/v1/products", json=other, headers=headers)
    assert r.status_code == 422
    assert picked(r.json(), "code", "field", "sku_code") == {
        "code": "duplicate_sku_code",
        "field": "skus.3.code",
        "sku_code": "TEE-WH-M",
    }
    assert await catalog_counts(state, tenant) == before


@pytest.mark.parametrize(
    "change",
    [
        {"title": ""},
        {"title": "x" * 121},
        {"title": "坏\x00标题"},
        {"title": "two\nlines"},
        {"tags": ["a" * 21]},
        {"option_names": ["颜色", "颜色"]},
        {"option_names": ["a", "b", "c", "d"]},
        {"status": "sold"},
        {"sales_scope": "everywhere"},
        {"skus": []},
        {"category": "not-an-id"},
        {"surprise": 1},
    ],
)
async def test_malformed_products_are_refused(
    state: AppState, client: httpx.AsyncClient, owner: Owner, change: dict[str, Any]
) -> None:
    tenant, headers = owner
    r = await client.post("/api/v1/products", json=tee_payload(**change), headers=headers)
    assert r.status_code == 422
    # core.text's rule answers with its own code (issue #11).
    text = any(isinstance(v, str) and ("\x00" in v or "\n" in v) for v in change.values())
    assert r.json()["code"] == ("invalid_text" if text else "validation_failed")
    assert await catalog_counts(state, tenant) == NOTHING


async def test_an_unknown_category_is_not_found(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    body = tee_payload(category="cat_0000000000000000")
    r = await client.post("/api/v1/products", json=body, headers=headers)
    assert r.status_code == 404
    assert await catalog_counts(state, tenant) == NOTHING


async def test_list_filters_and_pages(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    _tenant, headers = owner
    women = (await client.post("/api/v1/categories", json={"name": "女装"}, headers=headers)).json()
    dresses = (
        await client.post(
            "/api/v1/categories", json={"name": "连衣裙", "parent": women["id"]}, headers=headers
        )
    ).json()
    made = {}
    for title, category, status, tags, code in [
        ("碎花连衣裙", dresses["id"], "active", ["夏季"], "DRESS-1"),
        ("针织开衫", women["id"], "draft", ["秋季"], "CARDI-1"),
        ("Linen Shirt", None, "active", ["夏季", "男装"], "SHIRT-1"),
        ("帆布包", None, "archived", [], "BAG-1"),
        ("真丝连衣裙", dresses["id"], "active", [], "DRESS-2"),
    ]:
        body = {
            "title": title,
            "category": category,
            "status": status,
            "tags": tags,
            "skus": [sku({}, 5000, code=code, barcode=f"69{len(made):011d}")],
        }
        made[title] = (await create_product(client, headers, body))["id"]

    async def titles(query: str) -> list[str]:
        r = await client.get(f"/api/v1/products{query}", headers=headers)
        assert r.status_code == 200, r.text
        return [p["title"] for p in r.json()["items"]]

    everything = list(made)
    assert await titles("") == everything
    assert await titles("?q=连衣裙") == ["碎花连衣裙", "真丝连衣裙"]
    assert await titles("?q=linen") == ["Linen Shirt"]
    assert await titles("?q=cardi") == ["针织开衫"]  # a SKU code
    assert await titles("?q=6900000000003") == ["帆布包"]  # a barcode
    assert await titles("?q=%25") == []  # LIKE wildcards are literal
    assert await titles(f"?category={women['id']}") == ["碎花连衣裙", "针织开衫", "真丝连衣裙"]
    assert await titles(f"?category={dresses['id']}") == ["碎花连衣裙", "真丝连衣裙"]
    assert await titles("?status=active") == ["碎花连衣裙", "Linen Shirt", "真丝连衣裙"]
    assert await titles("?tag=夏季") == ["碎花连衣裙", "Linen Shirt"]
    assert await titles("?tag=夏季&q=shirt&status=active") == ["Linen Shirt"]

    seen: list[str] = []
    cursor = ""
    for _ in range(3):
        r = await client.get(f"/api/v1/products?limit=2{cursor}", headers=headers)
        page = r.json()
        seen += [p["title"] for p in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == everything

    summary = (await client.get("/api/v1/products?q=碎花", headers=headers)).json()["items"][0]
    assert summary == {
        "id": made["碎花连衣裙"],
        "title": "碎花连衣裙",
        "status": "active",
        "sales_scope": "all",
        "category": {"id": dresses["id"], "name": "连衣裙"},
        "tags": ["夏季"],
        "sku_count": 1,
        "price_min": 5000,
        "price_max": 5000,
        "thumbnail": None,
        "updated_at": summary["updated_at"],
    }


@pytest.mark.parametrize(
    "query",
    [
        "?category=cat_0000000000000000",
        "?q=%00",
        "?limit=0",
        "?limit=201",
        "?status=gone",
        f"?cursor={encode_cursor(10**30)}",
        f"?cursor={encode_cursor(-1)}",
        f"?cursor={encode_cursor('x')}",
        "?cursor=!!!",
    ],
)
async def test_bad_list_queries(client: httpx.AsyncClient, owner: Owner, query: str) -> None:
    _tenant, headers = owner
    r = await client.get(f"/api/v1/products{query}", headers=headers)
    assert r.status_code == (404 if "category" in query else 422)


async def test_list_shows_price_range_sku_count_and_cover(
    client: httpx.AsyncClient, owner: Owner
) -> None:
    _tenant, headers = owner
    product = await create_product(client, headers)
    deactivate = product["skus"][3]["id"]
    r = await client.patch(
        f"/api/v1/skus/{deactivate}", json={"status": "inactive"}, headers=headers
    )
    assert r.status_code == 200
    for color in ((1, 2, 3), (4, 5, 6)):
        r = await client.post(
            f"/api/v1/products/{product['id']}/images",
            files={"file": ("a.png", image_bytes(), "image/png")},
            headers=headers,
        )
        assert r.status_code == 201, (color, r.text)
    cover = r.json()
    first = (await client.get(f"/api/v1/products/{product['id']}", headers=headers)).json()[
        "images"
    ][0]
    assert first["id"] != cover["id"]

    item = (await client.get("/api/v1/products", headers=headers)).json()["items"][0]
    assert (item["sku_count"], item["price_min"], item["price_max"]) == (3, 9900, 10900)
    assert item["thumbnail"] == first["url"]


async def test_patch_changes_only_what_is_sent(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    product = await create_product(client, headers)
    shoes = (await client.post("/api/v1/categories", json={"name": "鞋"}, headers=headers)).json()
    url = f"/api/v1/products/{product['id']}"

    r = await client.patch(
        url,
        json={"title": "有机棉T恤", "tags": ["基础款"], "category": shoes["id"]},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["title"], changed["subtitle"], changed["tags"]) == (
        "有机棉T恤",
        "夏季新款",
        ["基础款"],
    )
    assert changed["category"] == {"id": shoes["id"], "name": "鞋"}
    assert changed["skus"] == product["skus"]
    tagged = await client.get("/api/v1/products?tag=夏季", headers=headers)
    assert tagged.json()["items"] == []
    assert (await catalog_counts(state, tenant))["product_tags"] == 1

    r = await client.patch(
        url, json={"category": None, "sales_scope": "online_only"}, headers=headers
    )
    assert (r.json()["category"], r.json()["sales_scope"]) == (None, "online_only")
    assert {s["effective_sales_scope"] for s in r.json()["skus"]} == {"online_only"}


async def test_renaming_options_renames_them_in_every_sku(
    client: httpx.AsyncClient, owner: Owner
) -> None:
    _tenant, headers = owner
    product = await create_product(client, headers)
    url = f"/api/v1/products/{product['id']}"
    r = await client.patch(url, json={"option_names": ["Colour", "Size"]}, headers=headers)
    assert r.status_code == 200
    assert r.json()["option_names"] == ["Colour", "Size"]
    assert [s["options"] for s in r.json()["skus"]] == [
        {"Colour": "黑", "Size": "M"},
        {"Colour": "黑", "Size": "L"},
        {"Colour": "白", "Size": "M"},
        {"Colour": "白", "Size": "L"},
    ]

    r = await client.patch(url, json={"option_names": ["Colour"]}, headers=headers)
    assert r.status_code == 422
    assert r.json()["code"] == "option_names_fixed"
    after = (await client.get(url, headers=headers)).json()
    assert after["option_names"] == ["Colour", "Size"]


async def test_activating_needs_a_sku_on_sale(client: httpx.AsyncClient, owner: Owner) -> None:
    _tenant, headers = owner
    product = await create_product(
        client, headers, {"title": "限量款", "status": "draft", "skus": [sku({}, 100)]}
    )
    sku_id = product["skus"][0]["id"]
    r = await client.patch(f"/api/v1/skus/{sku_id}", json={"status": "inactive"}, headers=headers)
    assert r.status_code == 200
    url = f"/api/v1/products/{product['id']}"
    r = await client.patch(url, json={"status": "active"}, headers=headers)
    assert r.status_code == 422
    assert r.json()["code"] == "no_active_sku"
    assert (await client.get(url, headers=headers)).json()["status"] == "draft"


@pytest.mark.parametrize(
    "change", [{"title": None}, {"status": None}, {"tags": None}, {"option_names": None}]
)
async def test_patch_cannot_null_required_fields(
    client: httpx.AsyncClient, owner: Owner, change: dict[str, Any]
) -> None:
    _tenant, headers = owner
    product = await create_product(client, headers)
    r = await client.patch(f"/api/v1/products/{product['id']}", json=change, headers=headers)
    assert r.status_code == 422
    after = (await client.get(f"/api/v1/products/{product['id']}", headers=headers)).json()
    assert after == product


async def test_reading_a_product_takes_four_queries_whatever_its_size(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    """Product, SKUs, channel prices (with stores), images: 4 statements."""
    tenant, headers = owner
    small = await create_product(client, headers, {"title": "小", "skus": [sku({}, 100)]})
    big_body = {
        "title": "大",
        "option_names": ["颜色", "尺码"],
        "skus": [
            sku({"颜色": c, "尺码": s}, 100) for c in ("黑", "白", "红") for s in ("S", "M", "L")
        ],
    }
    big = await create_product(client, headers, big_body)
    for s in big["skus"]:
        r = await client.put(
            f"/api/v1/skus/{s['id']}/prices",
            json={"channel": "wechat", "price": 90},
            headers=headers,
        )
        assert r.status_code == 200
    for _ in range(3):
        r = await client.post(
            f"/api/v1/products/{big['id']}/images",
            files={"file": ("a.png", image_bytes(), "image/png")},
            headers=headers,
        )
        assert r.status_code == 201

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sizes = {}
    for product in (small, big):
        async with UnitOfWork(state.read_factory) as uow:
            await uow.session.execute(text("SELECT 1"))  # open the transaction first
            event.listen(state.engine.sync_engine, "before_cursor_execute", count)
            try:
                statements.clear()
                detail = await service.get_product(uow.session, tenant, product["id"])
                sizes[product["title"]] = (len(statements), len(detail.skus), len(detail.images))
            finally:
                event.remove(state.engine.sync_engine, "before_cursor_execute", count)
    assert sizes == {"小": (4, 1, 0), "大": (4, 9, 3)}
    assert sum(len(s.prices) for s in detail.skus) == 9
