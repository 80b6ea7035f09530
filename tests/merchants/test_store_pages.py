"""/console/stores: the list, search, a new store, editing and closing; who sees what."""

from __future__ import annotations

import re

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.merchants.models import Store
from loopmall.merchants.stores import get_store
from tests.factories import make_merchant, make_staff, token_for
from tests.merchants.conftest import console_login, create_store, rows

HTML = {"Accept": "text/html"}


@pytest.fixture
async def logged_in(client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]) -> str:
    return await console_login(client, "acme", "13800000001")


def new_store(csrf: str, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "code": "SH001",
        "name": "静安店",
        "city": "上海",
        "district": "静安",
        "address": "南京西路 1266 号",
        "phone": "021-6288 0000",
        "latitude": "31.2304",
        "longitude": "121.4737",
        "opening_hours": "周一至周五 10:00-22:00；周六,周日 09:00-23:00",
        "pickup_enabled": "on",
        "note": "",
    } | changes


async def test_a_new_store_through_the_form_shows_in_the_list(
    state: AppState, client: httpx.AsyncClient, logged_in: str
) -> None:
    r = await client.post("/console/stores/new", data=new_store(logged_in), headers=HTML)
    assert r.status_code == 303
    assert re.fullmatch(r"/console/stores/st_[0-9a-z]{16}\?saved=1", r.headers["location"])
    edit = await client.get(r.headers["location"], headers=HTML)
    assert "已保存。" in edit.text
    assert 'value="mon-fri 10:00-22:00; sat-sun 09:00-23:00"' in edit.text
    page = await client.get("/console/stores", headers=HTML)
    row = re.search(r'<table id="stores-table">.*?<tbody>(.*?)</tbody>', page.text, re.S)
    assert row is not None
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1])]
    assert cells == [
        "SH001",
        "静安店",
        "上海",
        "静安 南京西路 1266 号",
        "mon-fri 10:00-22:00; sat-sun 09:00-23:00",
        "是",
        "营业中",
        "0",
    ]
    assert 'href="/console/stores/import"' in page.text
    assert await rows(state, Store) == 1


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"opening_hours": "whenever"}, 422, "营业时间的写法如"),
        ({"latitude": "north"}, 422, "纬度是 -90 到 90 之间的数字"),
        ({"latitude": "95"}, 422, "纬度是 -90 到 90 之间的数字"),
        ({"longitude": ""}, 422, "经度是 -180 到 180 之间的数字"),
        ({"code": "SH 001"}, 422, "请输入不含空格的编码"),
        ({"name": ""}, 422, "请输入门店名称"),
    ],
)
async def test_bad_input_is_shown_and_nothing_is_written(
    state: AppState,
    client: httpx.AsyncClient,
    logged_in: str,
    changes: dict[str, str],
    status: int,
    message: str,
) -> None:
    r = await client.post("/console/stores/new", data=new_store(logged_in, **changes), headers=HTML)
    assert r.status_code == status
    assert message in r.text
    assert 'value="南京西路 1266 号"' in r.text
    assert await rows(state, Store) == 0


async def test_a_duplicate_code_is_refused_on_the_page(
    state: AppState, client: httpx.AsyncClient, logged_in: str
) -> None:
    await client.post("/console/stores/new", data=new_store(logged_in), headers=HTML)
    r = await client.post(
        "/console/stores/new", data=new_store(logged_in, name="Another"), headers=HTML
    )
    assert r.status_code == 409
    assert "已有门店使用这个编码。" in r.text
    assert await rows(state, Store) == 1


async def test_editing_and_closing_a_store(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]], logged_in: str
) -> None:
    store = await create_store(client, owner[1], "SH001", name="Old", city="上海")
    data = new_store(logged_in, name="New name", status="closed", pickup_enabled="")
    del data["pickup_enabled"]
    r = await client.post(f"/console/stores/{store['id']}", data=data, headers=HTML)
    assert r.status_code == 303
    got = (await client.get(f"/api/v1/stores/{store['id']}", headers=owner[1])).json()
    assert (got["name"], got["status"], got["pickup_enabled"]) == ("New name", "closed", False)
    closed = await client.get("/console/stores?status=closed", headers=HTML)
    assert "New name" in closed.text
    opened = await client.get("/console/stores?status=open", headers=HTML)
    assert "New name" not in opened.text
    assert "没有符合条件的门店。" in opened.text


async def test_search_and_city_filter(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]], logged_in: str
) -> None:
    await create_store(client, owner[1], "SH001", name="静安店", city="上海")
    await create_store(client, owner[1], "BJ001", name="三里屯店", city="北京")
    page = await client.get("/console/stores", params={"city": "北京"}, headers=HTML)
    assert "三里屯店" in page.text and "静安店" not in page.text
    page = await client.get("/console/stores", params={"q": "静安"}, headers=HTML)
    assert "静安店" in page.text and "三里屯店" not in page.text
    assert (
        '<option value="北京" selected>北京</option>'
        in (await client.get("/console/stores?city=北京", headers=HTML)).text
    )


async def test_the_import_page_is_not_taken_for_a_store(
    client: httpx.AsyncClient, logged_in: str
) -> None:
    r = await client.get("/console/stores/import", headers=HTML)
    assert r.status_code == 200
    assert "<h1>导入门店</h1>" in r.text


async def test_another_merchants_store_page_is_404(
    state: AppState, client: httpx.AsyncClient, logged_in: str
) -> None:
    other = await make_merchant(state, "other")
    await make_staff(state, other, phone="13900000009")
    theirs = await create_store(
        client, await token_for(client, "other", "13900000009"), "T1", name="Their store"
    )
    r = await client.get(f"/console/stores/{theirs['id']}", headers=HTML)
    assert r.status_code == 404
    assert "Their store" not in r.text
    post = await client.post(
        f"/console/stores/{theirs['id']}", data=new_store(logged_in, name="Mine"), headers=HTML
    )
    assert post.status_code == 404
    assert (await rows(state, Store, Store.name == "Their store")) == 1


async def test_a_guide_sees_her_store_read_only(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    mine = await create_store(client, headers, "S1", name="我的店")
    other = await create_store(client, headers, "S2", name="别人的店")
    async with state.read_factory() as session:
        mine_id = (await get_store(session, tenant, mine["id"])).id
    await make_staff(state, tenant, phone="13800000005", role="guide", store_ids=(mine_id,))
    await console_login(client, "acme", "13800000005")
    page = await client.get("/console/stores", headers=HTML)
    assert "我的店" in page.text and "别人的店" not in page.text
    assert "/console/stores/new" not in page.text
    assert "/console/stores/import" not in page.text
    edit = await client.get(f"/console/stores/{mine['id']}", headers=HTML)
    assert '<fieldset class="stack plain" disabled>' in edit.text
    hidden = await client.get(f"/console/stores/{other['id']}", headers=HTML)
    assert hidden.status_code == 404
