"""Staff over the API: add, list, change; the role rules; stores; other merchants' ids."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.staff.models import Staff, StaffStore
from tests.factories import PASSWORD, make_merchant, make_staff, token_for
from tests.merchants.conftest import create_store, rows

GUIDE_PASSWORD = "guide-pass-123"


async def add(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/api/v1/staff", json=body, headers=headers)


async def test_an_owner_adds_a_guide_who_logs_in_and_sees_only_her_store(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    s1 = await create_store(client, headers, "S1", name="一号店")
    await create_store(client, headers, "S2")
    r = await add(
        client,
        headers,
        phone="+86 139-0000-0001",
        name="小王",
        role="guide",
        password=GUIDE_PASSWORD,
        stores=[s1["id"]],
        employee_no="G-01",
    )
    assert r.status_code == 201, r.text
    guide = r.json()
    assert (guide["phone"], guide["role"], guide["active"], guide["has_password"]) == (
        "13900000001",
        "guide",
        True,
        True,
    )
    assert guide["stores"] == [{"id": s1["id"], "code": "S1", "name": "一号店"}]
    token = await token_for(client, "acme", "13900000001", GUIDE_PASSWORD)
    listed = (await client.get("/api/v1/stores", headers=token)).json()
    assert [s["code"] for s in listed["items"]] == ["S1"]
    got = (await client.get(f"/api/v1/staff/{guide['id']}", headers=headers)).json()
    assert got == guide


async def test_idempotent_create(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    keyed = headers | {"Idempotency-Key": "mgr-1"}
    body = {"phone": "13900000002", "name": "Mgr", "role": "manager"}
    first = await client.post("/api/v1/staff", json=body, headers=keyed)
    again = await client.post("/api/v1/staff", json=body, headers=keyed)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert first.json()["has_password"] is False
    assert await rows(state, Staff) == 2


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"role": "guide", "stores": []}, 422, "store_required"),
        ({"role": "cashier"}, 422, "store_required"),
        ({"role": "guide", "stores": ["st_0000000000000000"]}, 422, "unknown_store"),
        ({"role": "boss"}, 422, "invalid_role"),
        ({"role": "manager", "phone": "1234"}, 422, "invalid_phone"),
        ({"role": "manager", "password": "short"}, 422, "weak_password"),
        ({"role": "manager", "name": " "}, 422, "validation_failed"),
        ({"role": "manager", "phone": "13800000001"}, 409, "phone_taken"),
        ({"role": "manager", "active": False}, 422, "validation_failed"),
    ],
)
async def test_bad_staff_are_refused_and_nothing_is_written(
    state: AppState,
    client: httpx.AsyncClient,
    owner: tuple[Tenant, dict[str, str]],
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    _tenant, headers = owner
    r = await add(client, headers, **({"phone": "13900000003", "name": "New"} | body))
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    assert await rows(state, Staff) == 1
    assert await rows(state, StaffStore) == 0


async def test_a_guide_cannot_be_assigned_to_another_merchants_store(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    other = await make_merchant(state, "other")
    await make_staff(state, other)
    theirs = await create_store(client, await token_for(client, "other", "13800000001"), "T1")
    r = await add(
        client, headers, phone="13900000004", name="G", role="guide", stores=[theirs["id"]]
    )
    assert r.status_code == 422
    assert (r.json()["code"], r.json()["ids"]) == ("unknown_store", [theirs["id"]])
    assert await rows(state, Staff) == 2


async def test_only_owners_make_owners_and_managers(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    store = await create_store(client, headers, "S1")
    await make_staff(state, tenant, phone="13800000002", role="manager", name="Mgr")
    manager = await token_for(client, "acme", "13800000002")
    for role in ("owner", "manager"):
        r = await add(client, manager, phone="13900000005", name="X", role=role)
        assert r.status_code == 403
        assert r.json()["code"] == "owner_required"
    assert await rows(state, Staff) == 2
    guide = await add(
        client, manager, phone="13900000005", name="G", role="guide", stores=[store["id"]]
    )
    assert guide.status_code == 201
    promote = await client.patch(
        f"/api/v1/staff/{guide.json()['id']}", json={"role": "manager"}, headers=manager
    )
    assert (promote.status_code, promote.json()["code"]) == (403, "owner_required")
    me = (await client.get("/api/v1/me", headers=manager)).json()
    owner_row = await client.get("/api/v1/staff?role=owner", headers=manager)
    owner_id = owner_row.json()["items"][0]["id"]
    demote = await client.patch(
        f"/api/v1/staff/{owner_id}", json={"active": False}, headers=manager
    )
    assert (demote.status_code, demote.json()["code"]) == (403, "owner_required")
    assert me["role"] == "manager"
    assert await rows(state, Staff, Staff.role == "owner", Staff.active.is_(True)) == 1
    ok = await client.patch(
        f"/api/v1/staff/{guide.json()['id']}", json={"role": "manager"}, headers=headers
    )
    assert (ok.status_code, ok.json()["role"]) == (200, "manager")


async def test_the_last_active_owner_stays(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    me = (await client.get("/api/v1/staff?role=owner", headers=headers)).json()["items"][0]
    url = f"/api/v1/staff/{me['id']}"
    for change in ({"active": False}, {"role": "manager"}):
        r = await client.patch(url, json=change, headers=headers)
        assert (r.status_code, r.json()["code"]) == (409, "last_owner")
    assert await rows(state, Staff, Staff.role == "owner", Staff.active.is_(True)) == 1
    second = await add(
        client, headers, phone="13900000006", name="Co", role="owner", password=GUIDE_PASSWORD
    )
    assert second.status_code == 201
    r = await client.patch(url, json={"role": "manager"}, headers=headers)
    assert (r.status_code, r.json()["role"]) == (200, "manager")
    # the first owner is a manager now; the remaining owner cannot leave either
    co_owner = await token_for(client, "acme", "13900000006", GUIDE_PASSWORD)
    last = await client.patch(
        f"/api/v1/staff/{second.json()['id']}", json={"active": False}, headers=co_owner
    )
    assert (last.status_code, last.json()["code"]) == (409, "last_owner")
    assert await rows(state, Staff, Staff.role == "owner", Staff.active.is_(True)) == 1


async def test_patch_moves_stores_resets_password_and_deactivates(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    s1 = await create_store(client, headers, "S1")
    s2 = await create_store(client, headers, "S2")
    guide = (
        await add(
            client,
            headers,
            phone="13900000007",
            name="G",
            role="guide",
            password=GUIDE_PASSWORD,
            stores=[s1["id"]],
        )
    ).json()
    url = f"/api/v1/staff/{guide['id']}"
    token = await token_for(client, "acme", "13900000007", GUIDE_PASSWORD)
    moved = (await client.patch(url, json={"stores": [s2["id"]]}, headers=headers)).json()
    assert [s["code"] for s in moved["stores"]] == ["S2"]
    listed = (await client.get("/api/v1/stores", headers=token)).json()
    assert [s["code"] for s in listed["items"]] == ["S2"]

    empty = await client.patch(url, json={"stores": []}, headers=headers)
    assert (empty.status_code, empty.json()["code"]) == (422, "store_required")
    reset = await client.patch(url, json={"password": "brand-new-pass"}, headers=headers)
    assert reset.status_code == 200
    assert (await client.get("/api/v1/me", headers=token)).status_code == 401
    token = await token_for(client, "acme", "13900000007", "brand-new-pass")
    off = await client.patch(url, json={"active": False}, headers=headers)
    assert off.json()["active"] is False
    assert (await client.get("/api/v1/me", headers=token)).status_code == 401
    nulls = await client.patch(url, json={"name": None}, headers=headers)
    assert (nulls.status_code, nulls.json()["code"]) == (422, "validation_failed")
    assert (await client.get(url, headers=headers)).json()["name"] == "G"


async def test_changing_to_a_taken_phone_is_409(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    mgr = (await add(client, headers, phone="13900000008", name="M", role="manager")).json()
    url = f"/api/v1/staff/{mgr['id']}"
    r = await client.patch(url, json={"phone": "13800000001", "name": "Renamed"}, headers=headers)
    assert (r.status_code, r.json()["code"]) == (409, "phone_taken")
    assert (await client.get(url, headers=headers)).json() == mgr


async def test_list_filters(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    s1 = await create_store(client, headers, "S1")
    s2 = await create_store(client, headers, "S2")
    await add(client, headers, phone="13900000011", name="王一", role="guide", stores=[s1["id"]])
    await add(client, headers, phone="13900000012", name="李二", role="cashier", stores=[s2["id"]])
    await add(
        client,
        headers,
        phone="13900000013",
        name="张三",
        role="store_manager",
        stores=[s1["id"], s2["id"]],
    )

    async def names(**params: Any) -> list[str]:
        r = await client.get("/api/v1/staff", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return [p["name"] for p in r.json()["items"]]

    assert await names() == ["Owner", "王一", "李二", "张三"]
    assert await names(store=s1["id"]) == ["王一", "张三"]
    assert await names(role="cashier") == ["李二"]
    assert await names(q="三") == ["张三"]
    assert await names(q="0000012") == ["李二"]
    bad = await client.get("/api/v1/staff", params={"role": "boss"}, headers=headers)
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_role")
    unknown = await client.get("/api/v1/staff", params={"store": "st_nope"}, headers=headers)
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_store")


async def test_store_managers_see_the_staff_of_their_stores_only(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    s1 = await create_store(client, headers, "S1")
    s2 = await create_store(client, headers, "S2")
    await add(
        client,
        headers,
        phone="13900000021",
        name="店长",
        role="store_manager",
        password=GUIDE_PASSWORD,
        stores=[s1["id"]],
    )
    mine = (
        await add(
            client,
            headers,
            phone="13900000022",
            name="本店导购",
            role="guide",
            stores=[s1["id"], s2["id"]],
        )
    ).json()
    theirs = (
        await add(
            client, headers, phone="13900000023", name="别店导购", role="guide", stores=[s2["id"]]
        )
    ).json()
    sm = await token_for(client, "acme", "13900000021", GUIDE_PASSWORD)
    listed = (await client.get("/api/v1/staff", headers=sm)).json()["items"]
    assert [p["name"] for p in listed] == ["店长", "本店导购"]
    # the guide's other store is not shown to this store manager
    assert [s["code"] for s in listed[1]["stores"]] == ["S1"]
    assert (await client.get(f"/api/v1/staff/{mine['id']}", headers=sm)).status_code == 200
    hidden = await client.get(f"/api/v1/staff/{theirs['id']}", headers=sm)
    assert hidden.status_code == 404
    assert "别店导购" not in hidden.text
    other_store = await client.get("/api/v1/staff", params={"store": s2["id"]}, headers=sm)
    assert other_store.status_code == 422
    write = await add(client, sm, phone="13900000024", name="X", role="guide", stores=[s1["id"]])
    assert write.status_code == 403
    assert await rows(state, Staff) == 4


async def test_another_merchants_staff_is_404(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    other = await make_merchant(state, "other")
    theirs = await make_staff(state, other, phone="13900000031", name="Their owner")
    url = f"/api/v1/staff/{theirs.public_id}"
    got = await client.get(url, headers=headers)
    assert got.status_code == 404
    assert "Their owner" not in got.text
    patched = await client.patch(url, json={"name": "Mine"}, headers=headers)
    assert patched.status_code == 404
    listed = (await client.get("/api/v1/staff", headers=headers)).json()["items"]
    assert [p["name"] for p in listed] == ["Owner"]
    their_token = await token_for(client, "other", "13900000031", PASSWORD)
    assert (await client.get(url, headers=their_token)).json()["name"] == "Their owner"
