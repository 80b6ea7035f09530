"""The merchant's cap on what a guide may take off a store sale alone (issue #11, case 1):
0 by default, set by the owner through the API and the settings page, bad values refused
with nothing changed."""

from __future__ import annotations

import httpx

from loopmall.core.state import AppState
from tests.factories import make_merchant, make_staff, token_for

CAP = "/api/v1/mall/settings/guide-discount"


async def test_the_cap_is_zero_until_the_owner_sets_it(
    state: AppState, client: httpx.AsyncClient
) -> None:
    tenant = await make_merchant(state)
    await make_staff(state, tenant)
    await make_staff(state, tenant, phone="13800000005", role="cashier")
    owner = await token_for(client, tenant.slug, "13800000001")
    cashier = await token_for(client, tenant.slug, "13800000005")

    assert (await client.get(CAP, headers=owner)).json() == {"cap_bp": 0}
    put = await client.put(CAP, json={"cap_bp": 1500}, headers=owner)
    assert (put.status_code, put.json()) == (200, {"cap_bp": 1500})
    for bad in (10_001, -1, True, "1500", 12.5):
        refused = await client.put(CAP, json={"cap_bp": bad}, headers=owner)
        assert (refused.status_code, refused.json()["code"]) == (422, "validation_failed"), bad
    not_theirs = await client.put(CAP, json={"cap_bp": 10_000}, headers=cashier)
    assert not_theirs.status_code == 403
    assert (await client.get(CAP, headers=owner)).json() == {"cap_bp": 1500}


async def test_the_settings_page_sets_the_cap_in_percent(
    state: AppState, client: httpx.AsyncClient
) -> None:
    tenant = await make_merchant(state)
    await make_staff(state, tenant)
    owner = await token_for(client, tenant.slug, "13800000001")

    page = await client.get("/console/settings", headers=owner)
    assert 'id="guide-discount-form"' in page.text and 'value="0.00"' in page.text
    saved = await client.post(
        "/console/settings/guide-discount",
        data={"cap_percent": "12.5"},
        headers=owner,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert (await client.get(CAP, headers=owner)).json() == {"cap_bp": 1250}
    for bad in ("101", "-1", "abc", "1.234", "NaN", ""):
        refused = await client.post(
            "/console/settings/guide-discount", data={"cap_percent": bad}, headers=owner
        )
        assert refused.status_code == 422, bad
        assert "请输入 0 到 100 之间的百分比" in refused.text
    assert (await client.get(CAP, headers=owner)).json() == {"cap_bp": 1250}
