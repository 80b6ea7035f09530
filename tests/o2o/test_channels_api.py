"""QR channels over the staff API: each kind with what it needs, the QR and poster files,
who sees which codes, and every bad input refused with nothing written."""

from __future__ import annotations

import httpx
import pytest

from loopmall.core.state import AppState
from tests.factories import owner_headers
from tests.o2o.world import World, create, make_world


@pytest.fixture
async def world(state: AppState, client: httpx.AsyncClient) -> World:
    return await make_world(state, client)


async def test_a_code_of_each_kind(client: httpx.AsyncClient, world: World) -> None:
    h = world.owner
    store = await create(client, h, {"kind": "store", "store": world.store})
    assert store["name"] == "西单店" and store["store"] == world.store
    assert store["url"] == f"http://127.0.0.1:8000/q/{store['code']}"
    guide = await create(client, h, {"kind": "guide", "guide": world.guide.public_id})
    # a guide's code carries the guide's store
    assert (guide["guide"], guide["guide_name"], guide["store"]) == (
        world.guide.public_id,
        "小美",
        world.store,
    )
    product = await create(
        client,
        h,
        {"kind": "product", "store": world.store, "sku": world.mall.skus["黑/M"]},
    )
    assert product["product"] == world.mall.coat and product["sku"] == world.mall.skus["黑/M"]
    assert product["product_title"] == "羊毛大衣" and product["name"] == "羊毛大衣"
    placement = await create(
        client,
        h,
        {
            "kind": "placement",
            "place_name": "城市画报 11 月刊",
            "place_address": "第 32 页",
            "poster_title": "冬季新品",
        },
    )
    assert placement["place_name"] == "城市画报 11 月刊" and placement["store"] is None
    join = await create(
        client,
        h,
        {
            "kind": "join",
            "coupon_title": "新会员礼",
            "coupon_fen": 1000,
            "coupon_threshold_fen": 5000,
        },
    )
    assert (join["coupon_fen"], join["coupon_threshold_fen"]) == (1000, 5000)
    codes = {c["code"] for c in (store, guide, product, placement, join)}
    assert len(codes) == 5
    listed = (await client.get("/api/v1/channels", headers=h)).json()["items"]
    assert [c["kind"] for c in listed] == ["store", "guide", "product", "placement", "join"]
    assert listed[0]["funnel"] == {
        "scans": 0,
        "visitors": 0,
        "members": 0,
        "orders": 0,
        "gmv_fen": 0,
    }
    only_joins = (await client.get("/api/v1/channels?kind=join", headers=h)).json()["items"]
    assert [c["id"] for c in only_joins] == [join["id"]]


async def test_qr_and_poster_files(client: httpx.AsyncClient, world: World) -> None:
    code = await create(client, world.owner, {"kind": "store", "store": world.store})
    base = f"/api/v1/channels/{code['id']}"
    png = await client.get(f"{base}/qr.png", headers=world.owner)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    svg = await client.get(f"{base}/qr.svg", headers=world.owner)
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    for size, width in (("a4", 1240), ("a5", 874)):
        poster = await client.get(f"{base}/poster?size={size}", headers=world.owner)
        assert poster.status_code == 200 and poster.content.startswith(b"\x89PNG")
        # PNG IHDR: width at bytes 16–20
        assert int.from_bytes(poster.content[16:20], "big") == width
    pdf = await client.get(f"{base}/poster?size=a5&format=pdf", headers=world.owner)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    bad = await client.get(f"{base}/poster?size=a3", headers=world.owner)
    assert bad.status_code == 422


async def test_one_store_code_per_store(client: httpx.AsyncClient, world: World) -> None:
    first = await create(client, world.owner, {"kind": "store", "store": world.store})
    again = await client.post(
        "/api/v1/channels", json={"kind": "store", "store": world.store}, headers=world.owner
    )
    assert again.status_code == 409
    assert again.json()["code"] == "channel_exists" and again.json()["id"] == first["id"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "store"}, 422, "channel_target_invalid"),
        ({"kind": "store", "store": "st_0000000000000000"}, 404, "not_found"),
        ({"kind": "guide"}, 422, "channel_target_invalid"),
        ({"kind": "guide", "guide": "stf_0000000000000000"}, 404, "not_found"),
        ({"kind": "product", "store": "STORE"}, 422, "channel_target_invalid"),
        ({"kind": "product", "store": "STORE", "sku": "sku_0000000000000000"}, 404, "not_found"),
        ({"kind": "placement"}, 422, "channel_target_invalid"),
        ({"kind": "placement", "place_name": "   "}, 422, "channel_target_invalid"),
        ({"kind": "store", "store": "STORE", "coupon_fen": 500}, 422, "channel_target_invalid"),
        ({"kind": "join", "coupon_fen": 0}, 422, "validation_failed"),
        ({"kind": "join", "guide": "OWNER"}, 422, "not_a_guide"),
        ({"kind": "placement", "place_name": "x", "guide": "GUIDE"}, 422, "channel_target_invalid"),
        ({"kind": "poster", "place_name": "x"}, 422, "validation_failed"),
        ({"kind": "join", "name": "x" * 101}, 422, "validation_failed"),
        ({"kind": "join", "surprise": 1}, 422, "validation_failed"),
        ({"kind": "guide", "guide": "GUIDE", "store": "OTHER"}, 422, "channel_target_invalid"),
    ],
)
async def test_bad_input_is_refused_and_nothing_written(
    client: httpx.AsyncClient,
    world: World,
    body: dict[str, object],
    status: int,
    code: str,
) -> None:
    owner_id = (await client.get("/api/v1/staff", headers=world.owner)).json()["items"][0]["id"]
    names = {
        "STORE": world.store,
        "OTHER": world.other_store,
        "GUIDE": world.guide.public_id,
        "OWNER": owner_id,
    }
    sent = {k: names.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    response = await client.post("/api/v1/channels", json=sent, headers=world.owner)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert (await client.get("/api/v1/channels", headers=world.owner)).json()["items"] == []


async def test_another_merchants_ids_are_not_found(
    state: AppState, client: httpx.AsyncClient, world: World
) -> None:
    mine = await create(client, world.owner, {"kind": "store", "store": world.store})
    _tenant, theirs = await owner_headers(state, client, "rival")
    r = await client.post(
        "/api/v1/channels", json={"kind": "store", "store": world.store}, headers=theirs
    )
    assert r.status_code == 404
    r = await client.post(
        "/api/v1/channels",
        json={"kind": "product", "store": world.store, "product": world.mall.coat},
        headers=theirs,
    )
    assert r.status_code == 404
    for path in ("", "/scans", "/qr.png", "/poster"):
        r = await client.get(f"/api/v1/channels/{mine['id']}{path}", headers=theirs)
        assert r.status_code == 404, path
    r = await client.patch(f"/api/v1/channels/{mine['id']}", json={"active": False}, headers=theirs)
    assert r.status_code == 404
    assert (await client.get("/api/v1/channels", headers=theirs)).json()["items"] == []


async def test_guides_see_their_own_codes_and_store_roles_their_stores(
    client: httpx.AsyncClient, world: World
) -> None:
    h = world.owner
    ours = await create(client, h, {"kind": "guide", "guide": world.guide.public_id})
    store = await create(client, h, {"kind": "store", "store": world.store})
    other = await create(client, h, {"kind": "store", "store": world.other_store})
    join = await create(client, h, {"kind": "join"})

    def ids(r: httpx.Response) -> list[str]:
        return [c["id"] for c in r.json()["items"]]

    assert ids(await client.get("/api/v1/channels", headers=world.guide_headers)) == [ours["id"]]
    assert ids(await client.get("/api/v1/channels", headers=world.manager_headers)) == [other["id"]]
    for hidden in (store, join):
        r = await client.get(f"/api/v1/channels/{hidden['id']}", headers=world.guide_headers)
        assert r.status_code == 404
    # reading is not writing
    r = await client.post("/api/v1/channels", json={"kind": "join"}, headers=world.guide_headers)
    assert r.status_code == 403
    r = await client.patch(
        f"/api/v1/channels/{ours['id']}", json={"active": False}, headers=world.manager_headers
    )
    assert r.status_code == 403


async def test_change_and_retire(client: httpx.AsyncClient, world: World) -> None:
    code = await create(client, world.owner, {"kind": "placement", "place_name": "咖啡馆"})
    url = f"/api/v1/channels/{code['id']}"
    r = await client.patch(
        url, json={"poster_title": "扫码领券", "active": False}, headers=world.owner
    )
    assert r.status_code == 200
    assert (r.json()["poster_title"], r.json()["active"]) == ("扫码领券", False)
    r = await client.patch(url, json={"place_name": ""}, headers=world.owner)
    assert r.status_code == 422 and r.json()["code"] == "channel_target_invalid"
    assert (await client.get(url, headers=world.owner)).json()["place_name"] == "咖啡馆"
    active = await client.get("/api/v1/channels?active=true", headers=world.owner)
    assert active.json()["items"] == []


async def test_idempotent_create(client: httpx.AsyncClient, world: World) -> None:
    headers = world.owner | {"Idempotency-Key": "join-1"}
    first = await client.post("/api/v1/channels", json={"kind": "join"}, headers=headers)
    second = await client.post("/api/v1/channels", json={"kind": "join"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    listed = (await client.get("/api/v1/channels", headers=world.owner)).json()["items"]
    assert len(listed) == 1
