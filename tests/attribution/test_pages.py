"""The console page: rules form (saved, refused), the ledger with filters and totals, in
Chinese by default; store managers see their store only and no form."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from loopmall.core import clock
from loopmall.core.state import AppState
from tests.attribution.world import buy, customer, deliver, make_world, touch
from tests.factories import PASSWORD, make_staff

HTML = {"Accept": "text/html"}


async def console_login(client: httpx.AsyncClient, slug: str, phone: str) -> str:
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


def _rows(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-role="([a-z_]+)" data-rule="([a-z_:]+)"', html)


async def test_rules_form_saves_and_refuses(state: AppState, client: httpx.AsyncClient) -> None:
    w = await make_world(state, client)
    csrf = await console_login(client, w.tenant.slug, "13800000001")
    page = await client.get("/console/attribution", headers=HTML)
    assert page.status_code == 200
    assert "归因规则" in page.text
    assert 'name="window_days" min="1" max="365" value="15"' in page.text
    form = {
        "csrf_token": csrf,
        "window_days": "7",
        "precedence": "first_touch",
        "takeover_after_days": "0",
        "bind_on_first_touch": "on",
    }
    r = await client.post("/console/attribution/rules", data=form)
    assert (r.status_code, r.headers["location"]) == (303, "/console/attribution?saved=1")
    rules = (await client.get("/api/v1/attribution/rules", headers=w.owner)).json()
    assert rules == {
        "window_days": 7,
        "precedence": "first_touch",
        "bind_on_first_touch": True,
        "takeover_after_days": 0,
        "bound_store_keeps_online": False,
    }
    r = await client.post("/console/attribution/rules", data=form | {"window_days": "400"})
    assert r.headers["location"].startswith("/console/attribution?error=attribution_rules_invalid")
    page = await client.get(r.headers["location"], headers=HTML)
    assert 'id="rules-error"' in page.text
    assert (await client.get("/api/v1/attribution/rules", headers=w.owner)).json() == rules
    r = await client.post("/console/attribution/rules", data=form | {"csrf_token": "forged"})
    assert r.status_code == 403


async def test_ledger_filters_and_store_scope(state: AppState, client: httpx.AsyncClient) -> None:
    w = await make_world(state, client)
    a, a_headers = await customer(state, w.tenant, "甲")
    b, b_headers = await customer(state, w.tenant, "乙")
    yesterday = clock.now() - timedelta(days=1)
    await touch(
        state,
        w.tenant,
        kind="scan",
        customer_id=a,
        visitor_id=None,
        store_id=w.store.id,
        guide_staff_id=w.guide,
        at=yesterday,
    )
    await touch(
        state,
        w.tenant,
        kind="scan",
        customer_id=b,
        visitor_id=None,
        store_id=w.other_store.id,
        at=yesterday,
    )
    await buy(state, client, w, a_headers)
    await buy(state, client, w, b_headers)
    await deliver(state, "order.paid")

    await console_login(client, w.tenant.slug, "13800000001")
    page = await client.get("/console/attribution", headers=HTML)
    assert sorted(_rows(page.text)) == [
        ("guide", "last_touch:scan"),
        ("store", "last_touch:scan"),
        ("store", "last_touch:scan"),
    ]
    assert "小王 · 门店 S001" in page.text
    assert re.search(
        r'data-role="store">\s*<strong>门店</strong>\s*<span>2 笔订单</span>', page.text
    )
    page = await client.get(
        "/console/attribution", params={"role": "guide", "guide": w.guide_public}, headers=HTML
    )
    assert _rows(page.text) == [("guide", "last_touch:scan")]
    page = await client.get("/console/attribution", params={"store": "st_unknown"}, headers=HTML)
    assert _rows(page.text) == []
    # The filter form as a browser sends it: empty fields are no filter.
    empty = {"role": "", "store": "", "guide": "", "rule": "", "from": "", "to": ""}
    page = await client.get("/console/attribution", params=empty, headers=HTML)
    assert page.status_code == 200
    assert len(_rows(page.text)) == 3
    today = clock.local(clock.now()).date()
    page = await client.get(
        "/console/attribution",
        params=empty | {"from": str(today + timedelta(days=1)), "to": "not-a-day"},
        headers=HTML,
    )
    assert (page.status_code, _rows(page.text)) == (200, [])

    await make_staff(
        state, w.tenant, phone="13800000009", role="store_manager", store_ids=(w.other_store.id,)
    )
    client.cookies.clear()
    await console_login(client, w.tenant.slug, "13800000009")
    page = await client.get("/console/attribution", headers=HTML)
    assert page.status_code == 200
    assert _rows(page.text) == [("store", "last_touch:scan")]
    assert 'action="/console/attribution/rules"' not in page.text
    r = await client.post("/console/attribution/rules", data={"window_days": "3"})
    assert r.status_code == 403
