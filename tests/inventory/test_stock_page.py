"""The console stock page: stock by location, the adjust form, releasing a hold, the
ledger; in Chinese by default; refusals re-render with the reason and change nothing."""

from __future__ import annotations

import re

import httpx
import pytest

from loopmall.core.state import AppState
from tests.factories import PASSWORD, make_merchant, make_staff, token_for
from tests.inventory.fixtures import level_state, make_skus, make_store

HTML = {"Accept": "text/html"}


async def console_login(client: httpx.AsyncClient, slug: str, phone: str) -> str:
    """Log in through the login form; returns the session's CSRF token."""
    form = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    r = await client.post(
        "/console/login",
        data={"merchant": slug, "phone": phone, "password": PASSWORD, "csrf_token": token[1]},
    )
    assert r.status_code == 303, r.text
    page = await client.get("/console", headers=HTML)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert csrf is not None
    return csrf[1]


@pytest.fixture
async def shop(state: AppState, client: httpx.AsyncClient):
    """Merchant acme: an owner (API headers), one store, two SKUs, 5 units of the first
    online and 2 at the store."""
    tenant = await make_merchant(state, "acme", "Acme")
    await make_staff(state, tenant, name="王店长")
    headers = await token_for(client, "acme", "13800000001")
    store = await make_store(state, tenant, "S1")
    skus = await make_skus(state, tenant, count=2, title="连衣裙")
    for location, units in (("online", 5), (store.public_id, 2)):
        r = await client.post(
            "/api/v1/stock/adjust",
            json={
                "sku": skus[0].public_id,
                "location": location,
                "delta": units,
                "reason": "到货",
                "kind": "receive",
            },
            headers=headers,
        )
        assert r.status_code == 200
    return tenant, headers, store, skus


def cells(html: str, table_id: str) -> list[list[str]]:
    """The text of each row's cells in table ``table_id``."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    out = []
    for row in rows:
        texts = [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        ]
        if texts:
            out.append(texts)
    return out


async def test_page_shows_stock_by_location_in_chinese(state, client, shop) -> None:
    _tenant, _headers, store, skus = shop
    await console_login(client, "acme", "13800000001")
    page = await client.get("/console/stock", headers=HTML)
    assert page.status_code == 200
    assert "<h1>库存</h1>" in page.text
    rows = cells(page.text, "stock-table")
    assert rows[0][:6] == ["连衣裙", f"{skus[0].code} 尺码: S0", "线上库存", "5", "0", "5"]
    assert rows[1][:4] == ["门店 S1", "2", "0", "2"]
    assert rows[2][:3] == ["连衣裙", f"{skus[1].code} 尺码: S1", "此处尚无库存记录"]

    only_store = await client.get(f"/console/stock?location={store.public_id}", headers=HTML)
    assert cells(only_store.text, "stock-table")[0][2] == "门店 S1"
    english = await client.get("/console/stock?lang=en", headers=HTML)
    assert "<h1>Stock</h1>" in english.text


async def test_adjust_form_then_ledger(state, client, shop) -> None:
    tenant, _headers, store, skus = shop
    csrf = await console_login(client, "acme", "13800000001")
    r = await client.post(
        "/console/stock/adjust",
        data={
            "csrf_token": csrf,
            "sku": skus[0].public_id,
            "location": store.public_id,
            "delta": "-2",
            "reason": "试穿损坏",
            "return_query": f"location={store.public_id}&bogus=1",
        },
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/console/stock?location={store.public_id}&ok=adjusted"
    page = await client.get(r.headers["location"], headers=HTML)
    assert "库存已更新。" in page.text
    assert cells(page.text, "stock-table")[0][3:6] == ["0", "0", "0"]

    ledger = await client.get(f"/console/stock?sku={skus[0].public_id}", headers=HTML)
    lines = cells(ledger.text, "ledger-table")
    assert [line[1:] for line in lines] == [
        ["门店 S1", "调整", "-2", "0", "试穿损坏", "王店长"],
        ["门店 S1", "入库", "+2", "0", "到货", "王店长"],
        ["线上库存", "入库", "+5", "0", "到货", "王店长"],
    ]
    levels = await level_state(state, tenant, skus[0].id)
    assert [(lv.on_hand, lv.held) for lv in levels] == [(5, 0), (0, 0)]


@pytest.mark.parametrize(
    ("delta", "status", "message"),
    [
        ("-6", 409, "可用库存不足：可用 5，需要 6。"),
        ("abc", 422, "请输入不为 0 的整数作为变动数量。"),
        # int() would take these; a form number is digits only (core.numbers.form_int)
        ("1_000", 422, "请输入不为 0 的整数作为变动数量。"),
        ("12abc", 422, "请输入不为 0 的整数作为变动数量。"),
        ("true", 422, "请输入不为 0 的整数作为变动数量。"),
        ("0", 422, "请输入不为 0 的整数作为变动数量。"),
    ],
)
async def test_refused_adjustment_rerenders_and_changes_nothing(
    state, client, shop, delta, status, message
) -> None:
    tenant, _headers, _store, skus = shop
    csrf = await console_login(client, "acme", "13800000001")
    r = await client.post(
        "/console/stock/adjust",
        data={
            "csrf_token": csrf,
            "sku": skus[0].public_id,
            "location": "online",
            "delta": delta,
            "reason": "盘亏",
        },
        headers=HTML,
    )
    assert r.status_code == status
    assert f'<div class="flash error" role="status">{message}</div>' in r.text
    assert f'value="{delta}"' in r.text  # the form keeps what was typed
    levels = await level_state(state, tenant, skus[0].id)
    assert [(lv.on_hand, lv.ledger_on_hand) for lv in levels] == [(5, 5), (2, 2)]


async def test_adjust_without_csrf_is_refused(state, client, shop) -> None:
    tenant, _headers, _store, skus = shop
    await console_login(client, "acme", "13800000001")
    r = await client.post(
        "/console/stock/adjust",
        data={"sku": skus[0].public_id, "location": "online", "delta": "1", "reason": "x"},
    )
    assert r.status_code == 403
    assert r.json()["code"] == "csrf_failed"
    assert [lv.on_hand for lv in await level_state(state, tenant, skus[0].id)] == [5, 2]


async def test_release_a_hold_from_the_page(state, client, shop) -> None:
    tenant, headers, _store, skus = shop
    hold = await client.post(
        "/api/v1/holds",
        json={
            "sku": skus[0].public_id,
            "location": "online",
            "quantity": 2,
            "ttl_seconds": 3600,
            "reference": "李女士",
        },
        headers=headers,
    )
    hold_id = hold.json()["id"]
    csrf = await console_login(client, "acme", "13800000001")
    page = await client.get("/console/stock", headers=HTML)
    [row] = cells(page.text, "holds-table")
    assert row[:6] == ["连衣裙", skus[0].code, "线上库存", "2", "导购", "李女士"]

    r = await client.post(f"/console/stock/holds/{hold_id}/release", data={"csrf_token": csrf})
    assert r.status_code == 303
    page = await client.get(r.headers["location"], headers=HTML)
    assert "预留已释放，这些库存重新可用。" in page.text
    assert "暂无有效预留。" in page.text
    again = await client.post(
        f"/console/stock/holds/{hold_id}/release", data={"csrf_token": csrf}, headers=HTML
    )
    assert again.status_code == 409
    assert "这个预留已经结束。" in again.text
    [online, _at_store] = await level_state(state, tenant, skus[0].id)
    assert (online.on_hand, online.held) == (5, 0)


async def test_guide_sees_their_store_only_and_cannot_adjust(state, client, shop) -> None:
    tenant, _headers, store, skus = shop
    await make_staff(state, tenant, phone="13900000009", role="guide", store_ids=(store.id,))
    csrf = await console_login(client, "acme", "13900000009")
    page = await client.get("/console/stock", headers=HTML)
    assert page.status_code == 200
    assert 'id="adjust-form"' not in page.text
    rows = cells(page.text, "stock-table")
    assert rows[0][2:6] == ["门店 S1", "2", "0", "2"]
    assert "线上库存" not in page.text
    r = await client.post(
        "/console/stock/adjust",
        data={
            "csrf_token": csrf,
            "sku": skus[0].public_id,
            "location": store.public_id,
            "delta": "1",
            "reason": "x",
        },
    )
    assert r.status_code == 403
    assert [lv.on_hand for lv in await level_state(state, tenant, skus[0].id)] == [5, 2]


async def test_page_needs_login(client: httpx.AsyncClient) -> None:
    r = await client.get("/console/stock", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=/console/stock"
