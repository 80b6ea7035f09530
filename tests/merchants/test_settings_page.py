"""/console/settings: the form saves name, colours, COD and blocks; the logo form uploads."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import httpx
import pytest
from PIL import Image

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from tests.factories import make_staff
from tests.merchants.conftest import console_login

HTML = {"Accept": "text/html"}


@pytest.fixture
async def logged_in(client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]) -> str:
    return await console_login(client, "acme", "13800000001")


def form(csrf: str, **changes: Any) -> dict[str, Any]:
    blocks = [
        {"type": "coupon_strip", "title": "领券"},
        {"type": "banner", "title": "上新", "image_url": "", "link": "/p/1"},
    ]
    base = {
        "csrf_token": csrf,
        "mall_name": "Acme 商城",
        "primary_color": "#0a7a3b",
        "accent_color": "#ffcc00",
        "cod_enabled": "on",
        "blocks_json": json.dumps(blocks, ensure_ascii=False),
    }
    return base | changes


async def api_settings(client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]) -> Any:
    return (await client.get("/api/v1/mall/settings", headers=owner[1])).json()


async def test_the_page_shows_the_settings_editor(
    client: httpx.AsyncClient, logged_in: str
) -> None:
    page = await client.get("/console/settings", headers=HTML)
    assert page.status_code == 200
    assert "<h1>商城设置</h1>" in page.text
    assert 'type="color" name="primary_color" id="primary-color" value="#e4393c"' in page.text
    assert 'id="block-editor"' in page.text
    area = re.search(r'<textarea name="blocks_json"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert area is not None
    blocks = json.loads(area[1].replace("&#34;", '"').replace("&quot;", '"'))
    assert [b["type"] for b in blocks] == ["banner", "product_grid", "coupon_strip"]
    assert 'action="/console/settings/logo"' in page.text


async def test_saving_the_form_changes_the_settings(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]], logged_in: str
) -> None:
    r = await client.post("/console/settings", data=form(logged_in), headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/settings?saved=1"
    page = await client.get(r.headers["location"], headers=HTML)
    assert "已保存。" in page.text
    got = await api_settings(client, owner)
    assert (got["mall_name"], got["primary_color"], got["accent_color"], got["cod_enabled"]) == (
        "Acme 商城",
        "#0a7a3b",
        "#ffcc00",
        True,
    )
    assert [b["type"] for b in got["blocks"]] == ["coupon_strip", "banner"]
    # unticking the box turns cash on delivery off
    data = form(logged_in)
    del data["cod_enabled"]
    await client.post("/console/settings", data=data, headers=HTML)
    assert (await api_settings(client, owner))["cod_enabled"] is False


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"primary_color": "red"}, 422, "请选择颜色，例如 #e4393c。"),
        ({"accent_color": "#12345"}, 422, "请选择颜色，例如 #222222。"),
        ({"mall_name": " "}, 422, "请输入商城名称"),
        ({"blocks_json": "[{"}, 422, "无法读取首页模块"),
        ({"blocks_json": '[{"type": "video", "title": "x"}]'}, 422, "首页模块有误"),
        (
            {"blocks_json": '[{"type": "product_grid", "title": "x", "limit": 99}]'},
            422,
            "首页模块有误（0.product_grid）",
        ),
    ],
)
async def test_bad_input_is_shown_and_changes_nothing(
    client: httpx.AsyncClient,
    owner: tuple[Tenant, dict[str, str]],
    logged_in: str,
    changes: dict[str, str],
    status: int,
    message: str,
) -> None:
    before = await api_settings(client, owner)
    r = await client.post("/console/settings", data=form(logged_in, **changes), headers=HTML)
    assert r.status_code == status
    assert message in r.text
    assert await api_settings(client, owner) == before


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 128, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_uploading_a_logo_through_the_page(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]], logged_in: str
) -> None:
    r = await client.post(
        "/console/settings/logo",
        data={"csrf_token": logged_in},
        files={"file": ("logo.png", png(), "image/png")},
        headers=HTML,
    )
    assert r.status_code == 303
    logo = (await api_settings(client, owner))["logo_url"]
    page = await client.get("/console/settings", headers=HTML)
    assert f'src="{logo}"' in page.text
    bad = await client.post(
        "/console/settings/logo",
        data={"csrf_token": logged_in},
        files={"file": ("logo.png", b"not an image", "image/png")},
        headers=HTML,
    )
    assert bad.status_code == 415
    assert "标志必须是 PNG、JPEG、WebP 或 GIF 图片。" in bad.text
    assert (await api_settings(client, owner))["logo_url"] == logo


async def test_managers_see_the_settings_but_cannot_save(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, _headers = owner
    await make_staff(state, tenant, phone="13800000002", role="manager", name="Mgr")
    csrf = await console_login(client, "acme", "13800000002")
    page = await client.get("/console/settings", headers=HTML)
    assert page.status_code == 200
    assert '<fieldset class="stack plain" disabled>' in page.text
    r = await client.post("/console/settings", data=form(csrf), headers=HTML)
    assert r.status_code == 403
    assert (await api_settings(client, owner))["mall_name"] == "Acme"
