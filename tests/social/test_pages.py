"""Sharing without script (the share bar's form and the share page) and the console's
share chains with the orders and GMV attribution credited to each share."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

import loopmall.attribution.handlers  # noqa: F401  (registers the subscriber run below)
from loopmall.core.events import subscriber
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import Outcome, apply, envelope_of
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.social import links
from tests.catalog.conftest import console_login
from tests.factories import make_staff, token_for
from tests.orders.fixtures import ADDRESS, pay_order
from tests.social.helpers import as_cookie, open_link, person, share
from tests.storefront.seed import seed_mall


async def test_share_form_makes_the_share_and_shows_its_page(
    state: AppState, client: httpx.AsyncClient
) -> None:
    mall = await seed_mall(state)
    a = await person(state, mall.tenant, "阿花")
    b = await person(state, mall.tenant, "阿布")
    r = await client.post(
        "/m/vero/shares",
        data={"target_kind": "product", "target": mall.coat, "back": f"/m/vero/p/{mall.coat}"},
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith("/m/vero/login?next=/m/vero/p/")

    as_cookie(client, state, "vero", a)
    form = {"target_kind": "product", "target": mall.coat, "csrf_token": a.csrf}
    r = await client.post("/m/vero/shares", data=form)
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert page.status_code == 200
    link = re.search(r'id="share-link" readonly value="([^"]+)"', page.text)
    assert link is not None
    token = link.group(1).rsplit("/", 1)[1]
    assert links.unsign(state.settings.secret_key, token) == r.headers["location"].rsplit("/")[-1]
    assert f"/m/vero/s/{token}/poster.png" in page.text and "data:image/png;base64," in page.text

    mine = await client.get("/m/vero/me/shares")
    assert mine.status_code == 200 and "羊毛大衣" in mine.text
    assert r.headers["location"].rsplit("/")[-1] in mine.text

    # Only its sharer sees a share's page.
    as_cookie(client, state, "vero", b)
    other = await client.get(r.headers["location"], headers={"accept": "text/html"})
    assert other.status_code == 404
    assert 'id="no-shares"' in (await client.get("/m/vero/me/shares")).text
    client.cookies.clear()
    anonymous = await client.get("/m/vero/me/shares")
    assert anonymous.status_code == 303 and "/m/vero/login" in anonymous.headers["location"]


async def _buy(
    state: AppState, client: httpx.AsyncClient, headers: dict[str, str], sku: str
) -> None:
    r = await client.post(
        "/api/v1/mall/vero/cart/items", json={"sku": sku, "quantity": 1}, headers=headers
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/api/v1/mall/vero/checkout",
        json={"payment_method": "online", "fulfilment": "delivery", "address": ADDRESS},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    await pay_order(state, (await _tenant(state)), r.json()["id"])
    async with UnitOfWork(state.read_factory) as uow:
        events = list(
            await uow.session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "order.paid"))
        )
    sub = subscriber("attribution.credit_paid_order")
    assert sub is not None
    for event in events:
        assert await apply(state.write_factory, sub, envelope_of(event)) is Outcome.APPLIED


async def _tenant(state: AppState):  # type: ignore[no-untyped-def]
    from loopmall.customers.service import tenant_for_slug

    async with UnitOfWork(state.read_factory) as uow:
        return await tenant_for_slug(uow.session, "vero")


async def test_console_shows_chains_with_visits_orders_and_gmv(
    state: AppState, client: httpx.AsyncClient
) -> None:
    mall = await seed_mall(state)
    owner = await make_staff(state, mall.tenant)
    guide = await make_staff(state, mall.tenant, phone="13800000002", role="guide")
    staff = await token_for(client, "vero", owner.phone)
    a = await person(state, mall.tenant, "阿花")
    b = await person(state, mall.tenant, "阿布")
    c = await person(state, mall.tenant, "阿草")
    lone = await person(state, mall.tenant, "独行")
    a_share = await share(client, "vero", a, "product", mall.coat)
    await share(client, "vero", lone, "home")
    as_cookie(client, state, "vero", b)
    await open_link(client, a_share["url"])
    b_share = await share(client, "vero", b, "product", mall.coat, via=a_share["token"])
    as_cookie(client, state, "vero", c)
    await open_link(client, b_share["url"])
    await _buy(state, client, c.bearer, mall.skus["黑/M"])

    r = await client.get("/api/v1/shares", headers=staff)
    assert r.status_code == 200, r.text
    chains = r.json()["items"]
    assert [ch["sharer_name"] for ch in chains] == ["独行", "阿花"]
    root = chains[1]
    assert (root["chain_size"], root["chain_visits"]) == (2, 2)
    assert (root["visits"], root["orders"], root["gmv_fen"]) == (1, 0, 0)
    [child] = root["children"]
    assert (child["id"], child["sharer_name"], child["depth"]) == (b_share["id"], "阿布", 1)
    assert (child["visits"], child["orders"], child["gmv_fen"]) == (1, 1, 59900)
    assert (root["chain_orders"], root["chain_gmv_fen"]) == (1, 59900)
    assert r.json()["next_cursor"] is None

    page1 = (await client.get("/api/v1/shares?limit=1", headers=staff)).json()
    assert [ch["sharer_name"] for ch in page1["items"]] == ["独行"]
    page2 = await client.get(f"/api/v1/shares?limit=1&cursor={page1['next_cursor']}", headers=staff)
    assert [ch["sharer_name"] for ch in page2.json()["items"]] == ["阿花"]

    one = await client.get(f"/api/v1/shares/{b_share['id']}", headers=staff)
    assert one.json()["id"] == a_share["id"] and one.json()["chain_size"] == 2
    assert (await client.get("/api/v1/shares/sh_nope", headers=staff)).status_code == 404
    bad = await client.get("/api/v1/shares?cursor=!!", headers=staff)
    assert bad.status_code == 422

    # The console page: one tree per chain, B nested under A.
    client.cookies.clear()
    await console_login(client, "vero", owner.phone)
    html = (await client.get("/console/shares")).text
    assert html.count('class="share-chain"') == 2
    nested = re.search(
        rf'data-share="{a_share["id"]}".*?<ul class="share-children">\s*<li class="share-node" '
        rf'data-share="{b_share["id"]}"',
        html,
        re.S,
    )
    assert nested is not None
    assert "¥599.00" in html

    # A guide has no ATTRIBUTION_READ.
    guide_headers = await token_for(client, "vero", guide.phone)
    assert (await client.get("/api/v1/shares", headers=guide_headers)).status_code == 403


async def test_another_merchants_shares_are_not_visible(
    state: AppState, client: httpx.AsyncClient
) -> None:
    mall = await seed_mall(state)
    a = await person(state, mall.tenant, "阿花")
    made = await share(client, "vero", a, "home")
    from tests.factories import owner_headers

    _acme, acme_staff = await owner_headers(state, client, "acme")
    r = await client.get("/api/v1/shares", headers=acme_staff)
    assert r.json()["items"] == []
    r = await client.get(f"/api/v1/shares/{made['id']}", headers=acme_staff)
    assert (r.status_code, r.json()["code"]) == (404, "share_not_found")
