"""core.text's rule through the app, on both databases (issue #11 case 7): a NUL or another
refused character in a JSON body, a form post, a query parameter or a path segment is a
422 ``invalid_text`` naming the field, and nothing is written — never a 500 (PostgreSQL
refuses NUL in text; SQLite used to accept it)."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Customer, WechatApp
from loopmall.merchants.models import Store
from tests.factories import make_merchant, make_staff, owner_headers
from tests.merchants.conftest import console_login


async def _count(state: AppState, model: type) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


def _refused(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (r.json()["code"], r.json()["field"]) == ("invalid_text", field)


@pytest.mark.parametrize(
    "name",
    ["坏\x00店", "a\x01b", "a\x7fb", "a\x85b", "a\u202eb", "a\u200bb", "a\ufeffb", "a\nb", "a\tb"],
)
async def test_a_json_body_field_is_refused_and_nothing_written(
    state: AppState, client: httpx.AsyncClient, name: str
) -> None:
    _tenant, headers = await owner_headers(state, client)
    before = await _count(state, Store)

    r = await client.post("/api/v1/stores", json={"code": "S1", "name": name}, headers=headers)

    _refused(r, "name")
    assert await _count(state, Store) == before


async def test_ordinary_text_with_joiners_and_full_width_spaces_is_kept(
    state: AppState, client: httpx.AsyncClient
) -> None:
    _tenant, headers = await owner_headers(state, client)
    name = "静安\u3000店 👨\u200d👩\u200d👧"
    r = await client.post("/api/v1/stores", json={"code": "S1", "name": name}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == name


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/stores?q=%E2%80%AE", "q"),
        ("/api/v1/stores?city=%C2%85", "city"),
        ("/api/v1/stores/st_%1b", "public_id"),
    ],
)
async def test_query_and_path(
    state: AppState, client: httpx.AsyncClient, url: str, field: str
) -> None:
    _tenant, headers = await owner_headers(state, client)
    _refused(await client.get(url, headers=headers), field)


async def test_sandbox_login_name_api_and_page(state: AppState, client: httpx.AsyncClient) -> None:
    await make_merchant(state, "acme")
    before = await _count(state, Customer)

    r = await client.post("/api/v1/mall/acme/auth/sandbox", json={"name": "阿\x00花"})
    _refused(r, "name")

    page = await client.get("/m/acme/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    for name in ("阿\x00花", "阿\n花"):
        r = await client.post(
            "/m/acme/login/sandbox", data={"name": name, "csrf_token": token.group(1)}
        )
        _refused(r, "name")
    _refused(await client.post("/api/v1/mall/acme/auth/sandbox", json={"name": "阿\n花"}), "name")
    assert await _count(state, Customer) == before


async def test_wechat_app_form(state: AppState, client: httpx.AsyncClient) -> None:
    tenant: Tenant = await make_merchant(state, "acme")
    await make_staff(state, tenant)
    csrf = await console_login(client, "acme", "13800000001")
    form = {"appid": "wxacme000000001", "secret": "s" * 32, "csrf_token": csrf}

    r = await client.post("/console/wechat/app", data=form | {"name": "服务\x00号"})
    _refused(r, "name")
    r = await client.post("/console/wechat/app", data=form | {"secret": "s" * 31 + "\x00"})
    _refused(r, "secret")
    r = await client.post("/console/wechat/app", data=form | {"name": "服务\n号"})
    _refused(r, "name")  # one line: the service's rule, not the form's floor
    assert await _count(state, WechatApp) == 0

    r = await client.post("/console/wechat/app", data=form | {"name": "Acme 服务号"})
    assert r.status_code == 303
    assert await _count(state, WechatApp) == 1


async def test_a_browser_gets_the_error_page(state: AppState, client: httpx.AsyncClient) -> None:
    tenant: Tenant = await make_merchant(state, "acme")
    await make_staff(state, tenant)
    csrf = await console_login(client, "acme", "13800000001")
    r = await client.post(
        "/console/wechat/app",
        data={"appid": "wx1", "secret": "s" * 32, "name": "\x00", "csrf_token": csrf},
        headers={"Accept": "text/html"},
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")


async def test_the_error_page_says_it_in_chinese_first(
    state: AppState, client: httpx.AsyncClient
) -> None:
    tenant: Tenant = await make_merchant(state, "acme")
    await make_staff(state, tenant)
    csrf = await console_login(client, "acme", "13800000001")
    form = {"appid": "wx1", "secret": "s" * 32, "name": "\x00", "csrf_token": csrf}
    html = {"Accept": "text/html"}

    zh = await client.post("/console/wechat/app", data=form, headers=html)
    en = await client.post("/console/wechat/app?lang=en", data=form, headers=html)

    assert "文字中含有不允许的字符" in zh.text
    assert "The text contains characters that are not allowed" in en.text


async def test_notes_and_addresses_keep_their_line_breaks(
    state: AppState, client: httpx.AsyncClient
) -> None:
    _tenant, headers = await owner_headers(state, client)
    body = {"code": "S1", "name": "静安店", "address": "南京西路 1 号\r\n2 楼", "note": "a\tb\nc"}

    r = await client.post("/api/v1/stores", json=body, headers=headers)

    assert r.status_code == 201, r.text
    assert (r.json()["address"], r.json()["note"]) == ("南京西路 1 号\r\n2 楼", "a\tb\nc")
    r = await client.post(
        "/api/v1/stores", json=body | {"code": "S2", "note": "a\x0bb"}, headers=headers
    )
    _refused(r, "note")


async def test_a_lone_surrogate_in_json_is_refused(
    state: AppState, client: httpx.AsyncClient
) -> None:
    _tenant, headers = await owner_headers(state, client)
    raw = b'{"code": "S1", "name": "a\\ud800b"}'
    r = await client.post(
        "/api/v1/stores", content=raw, headers=headers | {"Content-Type": "application/json"}
    )
    _refused(r, "name")
