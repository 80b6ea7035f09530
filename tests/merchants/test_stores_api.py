"""Stores over the API: open, list and filter, edit, close; every bad input; other tenants."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.merchants.models import Store
from loopmall.merchants.stores import get_store
from tests.factories import make_merchant, make_staff, token_for
from tests.merchants.conftest import create_store, rows

SHANGHAI = {
    "code": "SH001",
    "name": "南京西路店",
    "city": "上海",
    "district": "静安",
    "address": "南京西路 1266 号",
    "phone": "021-6288 0000",
    "latitude": 31.2304,
    "longitude": 121.4737,
    "opening_hours": "周一至周五 10:00-22:00；周六,周日 09:00-23:00",
    "pickup_enabled": False,
    "note": "地铁 2 号线",
}


async def test_open_a_store_with_hours_as_text_and_read_it_back(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    r = await client.post("/api/v1/stores", json=SHANGHAI, headers=headers)
    assert r.status_code == 201, r.text
    store = r.json()
    assert store["id"].startswith("st_")
    assert store["opening_hours"]["mon"] == [["10:00", "22:00"]]
    assert store["opening_hours"]["sun"] == [["09:00", "23:00"]]
    assert store["opening_hours_text"] == "mon-fri 10:00-22:00; sat-sun 09:00-23:00"
    assert (store["status"], store["pickup_enabled"], store["staff_count"]) == ("open", False, 0)
    got = (await client.get(f"/api/v1/stores/{store['id']}", headers=headers)).json()
    assert got == store


async def test_hours_as_the_stored_mapping_and_no_hours(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    mapped = await create_store(
        client, headers, "A1", opening_hours={"sat": [["9:00", "12:00"], ["22:00", "02:00"]]}
    )
    assert mapped["opening_hours"] == {"sat": [["09:00", "12:00"], ["22:00", "02:00"]]}
    none = await create_store(client, headers, "A2")
    assert (none["opening_hours"], none["opening_hours_text"]) == ({}, "")
    assert (none["latitude"], none["pickup_enabled"]) == (None, True)


async def test_creating_with_an_idempotency_key_replays(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    keyed = headers | {"Idempotency-Key": "store-sh001"}
    first = await client.post("/api/v1/stores", json=SHANGHAI, headers=keyed)
    again = await client.post("/api/v1/stores", json=SHANGHAI, headers=keyed)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    other = await client.post("/api/v1/stores", json=SHANGHAI | {"code": "X"}, headers=keyed)
    assert other.json()["code"] == "idempotency_key_reused"
    assert await rows(state, Store) == 1


def _with(**changes: Any) -> dict[str, Any]:
    return SHANGHAI | changes


BAD_STORES = [
    pytest.param(_with(latitude=90.5), "validation_failed", id="latitude-over-90"),
    pytest.param(_with(latitude=-91), "validation_failed", id="latitude-under-90"),
    pytest.param(_with(longitude=180.01), "validation_failed", id="longitude-over-180"),
    pytest.param(_with(latitude="north"), "validation_failed", id="latitude-text"),
    pytest.param(_with(longitude=None), "validation_failed", id="latitude-without-longitude"),
    pytest.param(_with(opening_hours="sometimes"), "invalid_opening_hours", id="hours-text"),
    pytest.param(_with(opening_hours="25:00-26:00"), "invalid_opening_hours", id="hours-25"),
    pytest.param(
        _with(opening_hours={"funday": [["10:00", "12:00"]]}),
        "invalid_opening_hours",
        id="hours-bad-day",
    ),
    pytest.param(
        _with(opening_hours={"mon": [["10:00", "10:00"]]}),
        "invalid_opening_hours",
        id="hours-empty-span",
    ),
    pytest.param(_with(opening_hours={"mon": [["10:00"]]}), "invalid_opening_hours", id="half"),
    pytest.param(_with(code=""), "validation_failed", id="empty-code"),
    pytest.param(_with(code="SH 001"), "validation_failed", id="code-with-space"),
    pytest.param(_with(code="X" * 41), "validation_failed", id="long-code"),
    pytest.param(_with(name="  "), "validation_failed", id="blank-name"),
    pytest.param(_with(phone="call me"), "validation_failed", id="bad-phone"),
    pytest.param(_with(city="上\x00海"), "invalid_text", id="control-char"),
    pytest.param(_with(status="closed"), "validation_failed", id="status-on-create"),
    pytest.param(_with(pickup_enabled="maybe"), "validation_failed", id="pickup-not-bool"),
]


@pytest.mark.parametrize(("body", "code"), BAD_STORES)
async def test_bad_stores_are_refused_and_nothing_is_written(
    state: AppState,
    client: httpx.AsyncClient,
    owner: tuple[Tenant, dict[str, str]],
    body: dict[str, Any],
    code: str,
) -> None:
    _tenant, headers = owner
    r = await client.post("/api/v1/stores", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert await rows(state, Store) == 0


async def test_a_duplicate_code_is_409_and_the_first_store_is_untouched(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    first = await create_store(client, headers, "SH001", name="First")
    r = await client.post("/api/v1/stores", json=SHANGHAI, headers=headers)
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["field"]) == ("store_code_taken", "code")
    assert await rows(state, Store) == 1
    got = (await client.get(f"/api/v1/stores/{first['id']}", headers=headers)).json()
    assert got["name"] == "First"


async def test_the_same_code_at_another_merchant_is_fine(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    other = await make_merchant(state, "other")
    await make_staff(state, other)
    theirs = await token_for(client, "other", "13800000001")
    await create_store(client, headers, "SH001")
    await create_store(client, theirs, "SH001")
    assert await rows(state, Store) == 2


async def test_patch_changes_only_the_given_fields_and_closes(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    store = (await client.post("/api/v1/stores", json=SHANGHAI, headers=headers)).json()
    url = f"/api/v1/stores/{store['id']}"
    r = await client.patch(url, json={"name": "新名字", "opening_hours": "24h"}, headers=headers)
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["name"] == "新名字"
    assert changed["opening_hours_text"] == "00:00-24:00"
    assert (changed["code"], changed["address"], changed["latitude"]) == (
        "SH001",
        "南京西路 1266 号",
        31.2304,
    )
    closed = (await client.patch(url, json={"status": "closed"}, headers=headers)).json()
    assert closed["status"] == "closed"
    cleared = await client.patch(url, json={"latitude": None, "longitude": None}, headers=headers)
    assert (cleared.json()["latitude"], cleared.json()["longitude"]) == (None, None)


@pytest.mark.parametrize(
    ("patch", "code"),
    [
        ({"status": "demolished"}, "validation_failed"),
        ({"latitude": None}, "validation_failed"),
        ({"name": None}, "validation_failed"),
        ({"pickup_enabled": None}, "validation_failed"),
        ({"opening_hours": "never"}, "invalid_opening_hours"),
        ({"code": "SH002"}, "store_code_taken"),
        ({"id": "st_x"}, "validation_failed"),
    ],
)
async def test_bad_patches_change_nothing(
    client: httpx.AsyncClient,
    owner: tuple[Tenant, dict[str, str]],
    patch: dict[str, Any],
    code: str,
) -> None:
    _tenant, headers = owner
    store = (await client.post("/api/v1/stores", json=SHANGHAI, headers=headers)).json()
    await create_store(client, headers, "SH002")
    url = f"/api/v1/stores/{store['id']}"
    r = await client.patch(url, json=patch, headers=headers)
    assert r.status_code in (409, 422)
    assert r.json()["code"] == code
    assert (await client.get(url, headers=headers)).json() == store


async def test_list_filters_and_pages(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    await create_store(client, headers, "SH001", name="静安店", city="上海")
    await create_store(client, headers, "SH002", name="徐汇店", city="上海", address="100%路")
    await create_store(client, headers, "BJ001", name="三里屯店", city="北京")
    closed = await create_store(client, headers, "BJ002", name="国贸店", city="北京")
    await client.patch(f"/api/v1/stores/{closed['id']}", json={"status": "closed"}, headers=headers)

    async def codes(**params: Any) -> list[str]:
        r = await client.get("/api/v1/stores", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return [s["code"] for s in r.json()["items"]]

    assert await codes() == ["SH001", "SH002", "BJ001", "BJ002"]
    assert await codes(city="北京") == ["BJ001", "BJ002"]
    assert await codes(status="closed") == ["BJ002"]
    assert await codes(q="sh0") == ["SH001", "SH002"]
    assert await codes(q="三里屯") == ["BJ001"]
    assert await codes(q="%") == ["SH002"]
    page = (await client.get("/api/v1/stores?limit=3", headers=headers)).json()
    rest = await codes(limit=3, cursor=page["next_cursor"])
    assert ([s["code"] for s in page["items"]], rest) == (["SH001", "SH002", "BJ001"], ["BJ002"])
    bad = await client.get("/api/v1/stores?cursor=not-a-cursor", headers=headers)
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")
    bad_status = await client.get("/api/v1/stores?status=gone", headers=headers)
    assert bad_status.status_code == 422


async def test_another_merchants_store_is_404_and_never_shown(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    other = await make_merchant(state, "other")
    await make_staff(state, other)
    theirs = await token_for(client, "other", "13800000001")
    secret = await create_store(client, theirs, "SECRET", name="Their store")
    url = f"/api/v1/stores/{secret['id']}"
    got = await client.get(url, headers=headers)
    assert got.status_code == 404
    assert "Their store" not in got.text
    patched = await client.patch(url, json={"name": "Mine now"}, headers=headers)
    assert patched.status_code == 404
    assert (await client.get("/api/v1/stores", headers=headers)).json()["items"] == []
    assert (await client.get(url, headers=theirs)).json()["name"] == "Their store"


async def test_store_roles_see_only_their_stores_and_cannot_write(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    mine = await create_store(client, headers, "S1")
    other = await create_store(client, headers, "S2")
    async with state.read_factory() as session:
        mine_id = (await get_store(session, tenant, mine["id"])).id
    await make_staff(state, tenant, phone="13800000005", role="guide", store_ids=(mine_id,))
    guide = await token_for(client, "acme", "13800000005")
    listed = (await client.get("/api/v1/stores", headers=guide)).json()
    assert [s["code"] for s in listed["items"]] == ["S1"]
    assert listed["items"][0]["staff_count"] == 1
    assert (await client.get(f"/api/v1/stores/{mine['id']}", headers=guide)).status_code == 200
    assert (await client.get(f"/api/v1/stores/{other['id']}", headers=guide)).status_code == 404
    r = await client.post("/api/v1/stores", json=SHANGHAI, headers=guide)
    assert r.status_code == 403
    r = await client.patch(f"/api/v1/stores/{mine['id']}", json={"name": "x"}, headers=guide)
    assert r.status_code == 403
    assert await rows(state, Store) == 2
