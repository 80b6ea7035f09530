"""/console/staff: the list with roles and stores, adding a guide, changing and deactivating."""

from __future__ import annotations

import re

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.staff.models import Staff
from tests.factories import make_staff
from tests.merchants.conftest import console_login, create_store, rows

HTML = {"Accept": "text/html"}


@pytest.fixture
async def logged_in(client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]) -> str:
    return await console_login(client, "acme", "13800000001")


async def test_adding_a_guide_through_the_form(
    state: AppState,
    client: httpx.AsyncClient,
    owner: tuple[Tenant, dict[str, str]],
    logged_in: str,
) -> None:
    s1 = await create_store(client, owner[1], "S1", name="一号店")
    r = await client.post(
        "/console/staff/new",
        data={
            "csrf_token": logged_in,
            "name": "小王",
            "phone": "139 0000 0001",
            "role": "guide",
            "stores": [s1["id"]],
            "employee_no": "G01",
            "password": "guide-pass-1",
        },
        headers=HTML,
    )
    assert r.status_code == 303
    assert re.fullmatch(r"/console/staff/stf_[0-9a-z]{16}\?saved=1", r.headers["location"])
    page = await client.get("/console/staff", headers=HTML)
    body = re.search(r"<tbody>(.*?)</tbody>", page.text, re.S)
    assert body is not None
    assert "小王" in body[1] and "13900000001" in body[1]
    assert "导购" in body[1] and ">S1</span>" in body[1] and "在职" in body[1]
    assert 'href="/console/staff/import"' in page.text
    assert await rows(state, Staff) == 2


async def test_a_guide_without_a_store_is_refused_on_the_page(
    state: AppState, client: httpx.AsyncClient, logged_in: str
) -> None:
    r = await client.post(
        "/console/staff/new",
        data={"csrf_token": logged_in, "name": "小王", "phone": "13900000001", "role": "guide"},
        headers=HTML,
    )
    assert r.status_code == 422
    assert "店长、导购和收银员至少要分配到一家门店。" in r.text
    assert 'value="小王"' in r.text
    assert await rows(state, Staff) == 1


async def test_filters_by_role_and_store(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]], logged_in: str
) -> None:
    s1 = await create_store(client, owner[1], "S1")
    s2 = await create_store(client, owner[1], "S2")
    for phone, name, store in (("13900000001", "甲", s1), ("13900000002", "乙", s2)):
        await client.post(
            "/api/v1/staff",
            json={"phone": phone, "name": name, "role": "cashier", "stores": [store["id"]]},
            headers=owner[1],
        )
    by_store = await client.get(f"/console/staff?store={s2['id']}", headers=HTML)
    assert "乙" in by_store.text and ">甲<" not in by_store.text
    by_role = await client.get("/console/staff?role=owner", headers=HTML)
    assert "Owner" in by_role.text and "乙" not in by_role.text


async def test_deactivating_someone(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]], logged_in: str
) -> None:
    made = await client.post(
        "/api/v1/staff",
        json={"phone": "13900000003", "name": "经理", "role": "manager"},
        headers=owner[1],
    )
    person = made.json()
    form = {
        "csrf_token": logged_in,
        "name": "经理",
        "phone": "13900000003",
        "role": "manager",
        "employee_no": "",
        "password": "",
    }
    r = await client.post(f"/console/staff/{person['id']}", data=form, headers=HTML)
    assert r.status_code == 303
    got = (await client.get(f"/api/v1/staff/{person['id']}", headers=owner[1])).json()
    assert (got["active"], got["has_password"]) == (False, False)
    page = await client.get("/console/staff", headers=HTML)
    assert "已停用" in page.text


async def test_the_last_owner_cannot_deactivate_herself_on_the_page(
    state: AppState, client: httpx.AsyncClient, logged_in: str
) -> None:
    me = (await client.get("/api/v1/staff?role=owner", headers={"X-CSRF-Token": logged_in})).json()
    owner_id = me["items"][0]["id"]
    form = {"csrf_token": logged_in, "name": "Owner", "phone": "13800000001", "role": "owner"}
    r = await client.post(f"/console/staff/{owner_id}", data=form, headers=HTML)
    assert r.status_code == 409
    assert "这是最后一位在职店主" in r.text
    assert await rows(state, Staff, Staff.active.is_(True)) == 1


async def test_managers_cannot_hand_out_owner_or_manager_roles(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, _headers = owner
    await make_staff(state, tenant, phone="13800000002", role="manager", name="Mgr")
    csrf = await console_login(client, "acme", "13800000002")
    page = await client.get("/console/staff/new", headers=HTML)
    options = re.findall(
        r'<option value="(\w+)"', page.text.split('name="role"')[1].split("</select>")[0]
    )
    assert options == ["store_manager", "guide", "cashier"]
    r = await client.post(
        "/console/staff/new",
        data={"csrf_token": csrf, "name": "X", "phone": "13900000004", "role": "owner"},
        headers=HTML,
    )
    assert r.status_code == 403
    assert "只有店主可以添加、修改或提升店主和经理。" in r.text
    assert await rows(state, Staff) == 2


async def test_the_import_page_is_not_taken_for_a_person(
    client: httpx.AsyncClient, logged_in: str
) -> None:
    r = await client.get("/console/staff/import", headers=HTML)
    assert r.status_code == 200
    assert "<h1>导入员工</h1>" in r.text


async def test_the_overview_counts_a_store_managers_own_stores_only(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    s1 = await create_store(client, headers, "S1")
    await create_store(client, headers, "S2")
    await client.post(
        "/api/v1/staff",
        json={
            "phone": "13900000005",
            "name": "店长",
            "role": "store_manager",
            "stores": [s1["id"]],
            "password": "manager-pass",
        },
        headers=headers,
    )
    await console_login(client, "acme", "13900000005", "manager-pass")
    page = await client.get("/console", headers=HTML)
    assert '<strong id="count-stores">1</strong>' in page.text
    assert '<strong id="count-staff">1</strong>' in page.text
    assert "店长" in page.text
