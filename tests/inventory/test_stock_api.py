"""Stock levels over the API: adjust with a reason, count, locations, the ledger; bad input
gets a clear 4xx and changes nothing; another merchant's ids are 404."""

from __future__ import annotations

import httpx
import pytest

from loopmall.core.state import AppState
from tests.factories import make_staff, owner_headers, token_for
from tests.inventory.fixtures import assert_consistent, level_state, make_skus, make_store


@pytest.fixture
async def owner(state: AppState, client: httpx.AsyncClient):
    return await owner_headers(state, client, "acme")


async def adjust(client, headers, sku, location, delta, reason="到货", **extra):
    body = {"sku": sku, "location": location, "delta": delta, "reason": reason, **extra}
    return await client.post("/api/v1/stock/adjust", json=body, headers=headers)


async def test_receive_then_adjust_down_and_read_back(state, client, owner) -> None:
    tenant, headers = owner
    (sku,) = await make_skus(state, tenant)

    r = await adjust(client, headers, sku.public_id, "online", 10, kind="receive")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["on_hand"] == 10 and body["held"] == 0 and body["available"] == 10
    assert body["location"].startswith("loc_")

    r = await adjust(client, headers, sku.public_id, body["location"], -3, reason="损耗")
    assert r.json()["on_hand"] == 7

    listed = (await client.get(f"/api/v1/stock?sku={sku.public_id}", headers=headers)).json()
    assert [(i["location_name"], i["on_hand"], i["available"]) for i in listed["items"]] == [
        ("线上库存", 7, 7)
    ]
    assert listed["items"][0]["sku_code"] == sku.code
    assert listed["items"][0]["product_title"] == "T恤"

    ledger = (
        await client.get(f"/api/v1/stock/movements?sku={sku.public_id}", headers=headers)
    ).json()["items"]
    assert [(m["kind"], m["delta_on_hand"], m["reason"]) for m in ledger] == [
        ("receive", 10, "到货"),
        ("adjust", -3, "损耗"),
    ]
    await assert_consistent(state, tenant, sku.id)


async def test_removing_more_than_available_is_409_and_changes_nothing(
    state, client, owner
) -> None:
    tenant, headers = owner
    (sku,) = await make_skus(state, tenant)
    await adjust(client, headers, sku.public_id, "online", 5)
    hold = await client.post(
        "/api/v1/holds",
        json={"sku": sku.public_id, "location": "online", "quantity": 2, "ttl_seconds": 600},
        headers=headers,
    )
    assert hold.status_code == 201, hold.text

    r = await adjust(client, headers, sku.public_id, "online", -4)  # only 3 are free
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "insufficient_stock"
    assert (r.json()["available"], r.json()["requested"]) == (3, 4)
    [lv] = await level_state(state, tenant, sku.id)
    assert (lv.on_hand, lv.held) == (5, 2)
    await assert_consistent(state, tenant, sku.id)


async def test_removing_from_a_sku_never_stocked_is_409(state, client, owner) -> None:
    tenant, headers = owner
    (sku,) = await make_skus(state, tenant)
    r = await adjust(client, headers, sku.public_id, "online", -1)
    assert r.status_code == 409
    assert r.json()["code"] == "insufficient_stock"
    assert await level_state(state, tenant, sku.id) == []


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"delta": 1.0}, "delta"),
        ({"delta": "3"}, "delta"),
        ({"delta": 0}, "delta"),
        ({"delta": 10**12}, "delta"),
        ({"reason": ""}, "reason"),
        ({"reason": "bad\x00byte"}, "reason"),
        ({"location": "online\x00"}, "location"),
        ({"kind": "steal"}, "kind"),
        ({"kind": "receive", "delta": -1}, "delta"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_bad_adjustments_are_422_and_change_nothing(
    state, client, owner, patch, field
) -> None:
    tenant, headers = owner
    (sku,) = await make_skus(state, tenant)
    await adjust(client, headers, sku.public_id, "online", 5)
    body = {"sku": sku.public_id, "location": "online", "delta": 2, "reason": "x"} | patch
    r = await client.post("/api/v1/stock/adjust", json=body, headers=headers)
    assert r.status_code == 422, r.text
    problem = r.json()
    text = any(
        "\x00" in str(v) for v in patch.values()
    )  # core.text's rule has its own code (issue #11)
    assert problem["code"] == ("invalid_text" if text else "validation_failed")
    assert field in problem["detail"] or problem.get("field") == field
    [lv] = await level_state(state, tenant, sku.id)
    assert (lv.on_hand, lv.held, lv.ledger_on_hand) == (5, 0, 5)


async def test_count_sets_on_hand_and_refuses_below_held(state, client, owner) -> None:
    tenant, headers = owner
    (sku,) = await make_skus(state, tenant)
    store = await make_store(state, tenant)
    await adjust(client, headers, sku.public_id, store.public_id, 8)
    await client.post(
        "/api/v1/holds",
        json={"sku": sku.public_id, "location": store.public_id, "quantity": 3, "ttl_seconds": 60},
        headers=headers,
    )
    body = {"sku": sku.public_id, "location": store.public_id, "on_hand": 2, "reason": "盘点"}
    r = await client.post("/api/v1/stock/count", json=body, headers=headers)
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["held"]) == ("below_held", 3)

    r = await client.post("/api/v1/stock/count", json=body | {"on_hand": 6}, headers=headers)
    assert r.status_code == 200
    assert (r.json()["on_hand"], r.json()["held"], r.json()["available"]) == (6, 3, 3)
    counts = (await client.get("/api/v1/stock/movements?kind=count", headers=headers)).json()[
        "items"
    ]
    assert [(m["delta_on_hand"], m["reason"]) for m in counts] == [(-2, "盘点")]
    await assert_consistent(state, tenant, sku.id)


async def test_locations_store_and_warehouse(state, client, owner) -> None:
    tenant, headers = owner
    (sku,) = await make_skus(state, tenant)
    store = await make_store(state, tenant, "S9")
    assert (await client.get("/api/v1/locations", headers=headers)).json()["items"] == []

    await adjust(client, headers, sku.public_id, store.public_id, 1)
    await adjust(client, headers, sku.public_id, store.public_id, 1)  # same location again
    r = await client.post(
        "/api/v1/locations", json={"code": "WH-2", "name": "北仓"}, headers=headers
    )
    assert r.status_code == 201, r.text
    assert (r.json()["kind"], r.json()["code"], r.json()["is_default"]) == (
        "warehouse",
        "WH-2",
        False,
    )
    again = await client.post(
        "/api/v1/locations", json={"code": "WH-2", "name": "另一个"}, headers=headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "location_code_taken"
    taken = await client.post(
        "/api/v1/locations", json={"code": "online", "name": "x"}, headers=headers
    )
    assert taken.json()["code"] == "location_code_taken"

    items = (await client.get("/api/v1/locations", headers=headers)).json()["items"]
    assert [(i["kind"], i["code"], i["name"], i["store"], i["is_default"]) for i in items] == [
        ("store", "S9", "门店 S9", store.public_id, False),
        ("warehouse", "online", "线上库存", None, True),
        ("warehouse", "WH-2", "北仓", None, False),
    ]


async def test_other_merchants_ids_are_404_and_change_nothing(state, client, owner) -> None:
    tenant, headers = owner
    other, other_headers = await owner_headers(state, client, "rival")
    (theirs,) = await make_skus(state, other)
    their_store = await make_store(state, other, "R1")
    (mine,) = await make_skus(state, tenant)
    await adjust(client, other_headers, theirs.public_id, "online", 5)
    their_loc = (await client.get("/api/v1/locations", headers=other_headers)).json()["items"]

    cases = [
        (theirs.public_id, "online"),
        (mine.public_id, their_store.public_id),
        (mine.public_id, their_loc[0]["id"]),
        ("sku_doesnotexist0000", "online"),
        (mine.public_id, "loc_nope"),
        (mine.public_id, "elsewhere"),
    ]
    for sku, location in cases:
        r = await adjust(client, headers, sku, location, 1)
        assert r.status_code == 404, (sku, location, r.text)
        assert r.json()["code"] == "not_found"
    r = await client.get(f"/api/v1/stock?sku={theirs.public_id}", headers=headers)
    assert r.status_code == 404
    r = await client.get(f"/api/v1/stock/movements?location={their_loc[0]['id']}", headers=headers)
    assert r.status_code == 404
    assert (await client.get("/api/v1/locations", headers=headers)).json()["items"] == []
    [lv] = await level_state(state, other, theirs.id)
    assert (lv.on_hand, lv.held) == (5, 0)
    assert await level_state(state, tenant, mine.id) == []


async def test_store_roles_only_touch_their_stores(state, client, owner) -> None:
    tenant, headers = owner
    (sku,) = await make_skus(state, tenant)
    mine, other = await make_store(state, tenant, "A"), await make_store(state, tenant, "B")
    await adjust(client, headers, sku.public_id, other.public_id, 4)
    await adjust(client, headers, sku.public_id, "online", 4)
    await make_staff(state, tenant, phone="13900000002", role="store_manager", store_ids=(mine.id,))
    manager = await token_for(client, "acme", "13900000002")

    r = await adjust(client, manager, sku.public_id, mine.public_id, 2)
    assert r.status_code == 200
    for location in (other.public_id, "online"):
        r = await adjust(client, manager, sku.public_id, location, 1)
        assert r.status_code == 404, location
    listed = (await client.get("/api/v1/stock", headers=manager)).json()["items"]
    assert [(i["location_name"], i["on_hand"]) for i in listed] == [("门店 A", 2)]
    r = await client.post("/api/v1/locations", json={"code": "X", "name": "X"}, headers=manager)
    assert r.status_code == 403
    # The other store never got a second level, nor did anyone write to it.
    assert sorted(lv.on_hand for lv in await level_state(state, tenant, sku.id)) == [2, 4, 4]


async def test_cashier_may_read_but_not_adjust(state, client, owner) -> None:
    tenant, _headers = owner
    (sku,) = await make_skus(state, tenant)
    store = await make_store(state, tenant)
    await make_staff(state, tenant, phone="13900000003", role="cashier", store_ids=(store.id,))
    cashier = await token_for(client, "acme", "13900000003")
    assert (await client.get("/api/v1/stock", headers=cashier)).status_code == 200
    r = await adjust(client, cashier, sku.public_id, store.public_id, 1)
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    assert await level_state(state, tenant, sku.id) == []


async def test_stock_list_pages_by_cursor(state, client, owner) -> None:
    tenant, headers = owner
    skus = await make_skus(state, tenant, count=5)
    for i, sku in enumerate(skus):
        await adjust(client, headers, sku.public_id, "online", i + 1)
    seen = []
    cursor = None
    while True:
        url = "/api/v1/stock?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=headers)).json()
        seen += [i["on_hand"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [1, 2, 3, 4, 5]
    bad = await client.get("/api/v1/stock?cursor=!!!", headers=headers)
    assert bad.status_code == 422


async def test_adjust_is_idempotent_with_a_key(state, client, owner) -> None:
    tenant, headers = owner
    (sku,) = await make_skus(state, tenant)
    keyed = headers | {"Idempotency-Key": "adj-1"}
    first = await adjust(client, keyed, sku.public_id, "online", 5)
    second = await adjust(client, keyed, sku.public_id, "online", 5)
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    other = await adjust(client, keyed, sku.public_id, "online", 6)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    [lv] = await level_state(state, tenant, sku.id)
    assert lv.on_hand == 5


async def test_control_characters_in_ids_are_refused_not_crashing(state, client, owner) -> None:
    _tenant, headers = owner
    for url in (
        "/api/v1/stock?sku=%00",
        "/api/v1/stock?location=loc_%00",
        "/api/v1/stock/movements?hold=%01",
    ):
        r = await client.get(url, headers=headers)
        assert r.status_code == 422, url
        assert r.json()["code"] == "invalid_text"
    # A path segment with a NUL is refused like any other text (issue #11), never a 500.
    r = await client.post("/api/v1/holds/hld_%00/release", headers=headers)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_text")
