"""The console's QR code pages: the list with funnels, a new code from the form (and the
form's errors), a code's page with its downloads and recent scans, retiring it, the print
page, and who may see what."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from loopmall.core.state import AppState
from tests.factories import PASSWORD
from tests.o2o.world import World, create, make_world


@pytest.fixture
async def world(state: AppState, client: httpx.AsyncClient) -> World:
    return await make_world(state, client)


@pytest.fixture
async def staff_browser(app: Any) -> Any:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _console(client: httpx.AsyncClient, phone: str) -> str:
    form = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    r = await client.post(
        "/console/login",
        data={"merchant": "vero", "phone": phone, "password": PASSWORD, "csrf_token": token[1]},
    )
    assert r.status_code == 303, r.text
    page = await client.get("/console")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert csrf is not None
    return csrf[1]


async def test_create_from_the_form_and_print(
    client: httpx.AsyncClient, staff_browser: httpx.AsyncClient, world: World
) -> None:
    csrf = await _console(staff_browser, "13800000001")
    page = await staff_browser.get("/console/channels")
    assert (
        page.status_code == 200 and "二维码与海报" in page.text and 'id="new-channel"' in page.text
    )
    assert world.guide.public_id in page.text, "guides offered in the form"
    # without the CSRF token: refused
    r = await staff_browser.post("/console/channels", data={"kind": "join"})
    assert r.status_code == 403
    r = await staff_browser.post(
        "/console/channels",
        data={
            "csrf_token": csrf,
            "kind": "placement",
            "place_name": "城市画报",
            "place_address": "第 32 页",
            "poster_title": "冬季新品",
            "coupon_yuan": "",
        },
    )
    assert r.status_code == 303
    detail_path = r.headers["location"]
    channel_id = detail_path.rsplit("/", 1)[1]
    detail = await staff_browser.get(detail_path)
    assert detail.status_code == 200 and "<svg" in detail.text and 'id="f-scans">0<' in detail.text
    listed = (await client.get(f"/api/v1/channels/{channel_id}", headers=world.owner)).json()
    assert (listed["kind"], listed["place_name"], listed["poster_title"]) == (
        "placement",
        "城市画报",
        "冬季新品",
    )
    await staff_browser.get(f"/q/{listed['code']}")
    detail = await staff_browser.get(detail_path)
    assert 'id="f-scans">1<' in detail.text and 'id="scans-table"' in detail.text
    for path, media, magic in (
        ("qr.png", "image/png", b"\x89PNG"),
        ("qr.svg", "image/svg+xml", b"<svg"),
        ("poster.png?size=a5", "image/png", b"\x89PNG"),
        ("poster.pdf?size=a4", "application/pdf", b"%PDF"),
    ):
        r = await staff_browser.get(f"{detail_path}/{path}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(media), path
        assert r.content.lstrip().startswith(magic) or magic in r.content[:200], path
    printed = await staff_browser.get(f"{detail_path}/print?size=a5")
    assert f'src="{detail_path}/poster.png?size=a5"' in printed.text
    # retire it
    r = await staff_browser.post(
        f"{detail_path}/active", data={"csrf_token": csrf, "active": "false"}
    )
    assert r.status_code == 303
    assert 'id="retired"' in (await staff_browser.get(detail_path)).text
    assert (await staff_browser.get(f"/q/{listed['code']}")).status_code == 404


async def test_form_errors_say_what_is_wrong_and_write_nothing(
    client: httpx.AsyncClient, staff_browser: httpx.AsyncClient, world: World
) -> None:
    csrf = await _console(staff_browser, "13800000001")
    await create(client, world.owner, {"kind": "store", "store": world.store})
    cases = [
        ({"kind": "store", "store": world.store}, 409, "该门店或导购已有二维码。"),
        ({"kind": "placement"}, 422, "请只填写此类二维码需要的内容。"),
        ({"kind": "join", "coupon_yuan": "abc"}, 422, "操作未成功，请检查表单。"),
        ({"kind": "bogus"}, 422, "操作未成功，请检查表单。"),
        ({"kind": "product", "store": world.store, "product": "prd_x"}, 422, "请从列表中"),
    ]
    for data, status, text in cases:
        r = await staff_browser.post("/console/channels", data={"csrf_token": csrf} | data)
        assert r.status_code == status, (data, r.status_code)
        assert 'id="channel-error"' in r.text and text in r.text, data
    listed = (await client.get("/api/v1/channels", headers=world.owner)).json()["items"]
    assert [c["kind"] for c in listed] == ["store"]


async def test_a_guide_sees_only_their_codes_and_cannot_create(
    client: httpx.AsyncClient, staff_browser: httpx.AsyncClient, world: World
) -> None:
    mine = await create(client, world.owner, {"kind": "guide", "guide": world.guide.public_id})
    other = await create(client, world.owner, {"kind": "store", "store": world.other_store})
    csrf = await _console(staff_browser, "13800000002")
    page = await staff_browser.get("/console/channels")
    assert page.status_code == 200
    assert mine["id"] in page.text and other["id"] not in page.text
    assert 'id="new-channel"' not in page.text
    assert (await staff_browser.get(f"/console/channels/{other['id']}")).status_code == 404
    r = await staff_browser.post("/console/channels", data={"csrf_token": csrf, "kind": "join"})
    assert r.status_code == 403
