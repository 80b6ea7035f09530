"""Opening a mall through /console/signup: the form, its CSRF cookie, errors, the landing."""

from __future__ import annotations

import re

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.merchants.models import Merchant
from loopmall.staff.models import Staff
from tests.merchants.conftest import rows

HTML = {"Accept": "text/html"}
FORM = {
    "name": "王记水果",
    "slug": "wang-fruit",
    "owner_name": "王阿姨",
    "owner_phone": "13912345678",
    "owner_password": "apples-and-pears",
}


async def form_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/console/signup", headers=HTML)
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return token[1]


async def test_signing_up_opens_the_mall_and_lands_logged_in_on_the_settings(
    state: AppState, client: httpx.AsyncClient
) -> None:
    token = await form_token(client)
    r = await client.post("/console/signup", data=FORM | {"csrf_token": token}, headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/settings?welcome=1"
    landing = await client.get(r.headers["location"], headers=HTML)
    assert landing.status_code == 200
    assert "你的商城已开张" in landing.text
    assert 'value="王记水果"' in landing.text
    overview = await client.get("/console", headers=HTML)
    assert "wang-fruit" in overview.text
    assert '<strong id="count-stores">0</strong>' in overview.text
    assert '<strong id="count-staff">1</strong>' in overview.text
    assert await rows(state, Merchant) == 1


async def test_the_signup_page_is_in_chinese_and_english(client: httpx.AsyncClient) -> None:
    zh = await client.get("/console/signup", headers=HTML)
    assert "<h1>开通新商城</h1>" in zh.text
    en = await client.get("/console/signup?lang=en", headers=HTML)
    assert "<h1>Open a new mall</h1>" in en.text


@pytest.mark.parametrize(
    ("field", "value", "message", "status"),
    [
        ("slug", "x", "商户代码为 3–40 个小写字母、数字或单个连字符", 422),
        ("slug", "console", "这个商户代码是保留的", 422),
        ("owner_phone", "12345", "请输入 11 位手机号", 422),
        ("owner_password", "short", "密码至少需要 8 个字符", 422),
    ],
)
async def test_bad_input_shows_the_form_again_with_the_reason(
    state: AppState,
    client: httpx.AsyncClient,
    field: str,
    value: str,
    message: str,
    status: int,
) -> None:
    token = await form_token(client)
    r = await client.post(
        "/console/signup", data=FORM | {field: value, "csrf_token": token}, headers=HTML
    )
    assert r.status_code == status
    assert message in r.text
    assert 'value="王记水果"' in r.text  # what was typed is kept
    assert "apples-and-pears" not in r.text  # but never the password
    assert await rows(state, Merchant) == 0
    assert await rows(state, Staff) == 0


async def test_a_taken_code_is_refused(state: AppState, client: httpx.AsyncClient) -> None:
    token = await form_token(client)
    await client.post("/console/signup", data=FORM | {"csrf_token": token}, headers=HTML)
    client.cookies.clear()
    token = await form_token(client)
    r = await client.post(
        "/console/signup",
        data=FORM | {"owner_phone": "13700000000", "csrf_token": token},
        headers=HTML,
    )
    assert r.status_code == 409
    assert "这个商户代码已被使用" in r.text
    assert await rows(state, Merchant) == 1


@pytest.mark.parametrize("token", ["", "forged-token"])
async def test_a_signup_without_the_forms_csrf_cookie_token_is_refused(
    state: AppState, client: httpx.AsyncClient, token: str
) -> None:
    await form_token(client)  # the cookie is set; the form's value is not sent back
    r = await client.post("/console/signup", data=FORM | {"csrf_token": token}, headers=HTML)
    assert r.status_code == 403
    assert "csrf_failed" in r.text
    assert await rows(state, Merchant) == 0
