"""The console's navigation shows the pages a role opens and hides the rest (#11: "the
console hides what a role can't do"), read off the routes' guards."""

from __future__ import annotations

import re
from typing import Any

import httpx

from loopmall.core.state import AppState
from tests.factories import make_merchant, make_staff
from tests.merchants.conftest import console_login

HTML = {"Accept": "text/html"}


async def _nav(client: httpx.AsyncClient) -> list[str]:
    page = await client.get("/console/orders", headers=HTML)
    assert page.status_code == 200, page.text
    nav = re.search(r'<nav class="mainnav">(.*?)</nav>', page.text, re.S)
    assert nav is not None
    return re.findall(r'<a href="([^"]+)"', nav[1])


async def test_a_cashier_sees_the_till_pages_and_not_reconciliation(
    state: AppState, client: httpx.AsyncClient
) -> None:
    tenant = await make_merchant(state)
    await make_staff(state, tenant, phone="13800000008", role="cashier")
    await console_login(client, tenant.slug, "13800000008")

    links = await _nav(client)

    assert links == [
        "/console",
        "/console/stores",
        "/console/products",
        "/console/stock",
        "/console/orders",
        "/console/store-sales",  # the till takes the money for guides' store sales
        "/console/pickup",
        "/console/payments",
        "/console/qrcodes",
    ]


async def test_the_owner_sees_every_page(state: AppState, client: httpx.AsyncClient) -> None:
    tenant = await make_merchant(state)
    await make_staff(state, tenant)
    await console_login(client, tenant.slug, "13800000001")

    links = await _nav(client)

    assert "/console/reconciliation" in links and "/console/settings" in links
    assert len(links) == 19


async def test_the_overview_links_only_to_pages_the_role_opens(
    app: Any, state: AppState, client: httpx.AsyncClient
) -> None:
    tenant = await make_merchant(state)
    await make_staff(state, tenant)
    await make_staff(state, tenant, phone="13800000008", role="cashier")

    await console_login(client, tenant.slug, "13800000008")
    cashier = await client.get("/console", headers=HTML)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await console_login(other, tenant.slug, "13800000001")
        owner = await other.get("/console", headers=HTML)

    assert 'class="card stat" href="/console/staff"' not in cashier.text
    assert 'id="count-staff"' not in cashier.text
    assert 'class="card stat" href="/console/stores"' in cashier.text
    assert 'class="card stat" href="/console/staff"' in owner.text
    assert 'href="/console/stores/new"' in owner.text
