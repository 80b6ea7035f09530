"""Scanning a QR code: ``/q/{code}`` records the scan and an attribution touch, gives the
device a visitor id, and goes where the code points; the anonymous visitor becomes the
customer at login (scans and touches claimed, the store/guide binding made); unknown and
retired codes get a clear page and nothing is written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.models import Merchant
from tests.factories import make_merchant, make_staff, token_for
from tests.o2o.world import HTML, World, api_login, create, make_world, page_login


@pytest.fixture
async def world(state: AppState, client: httpx.AsyncClient) -> World:
    return await make_world(state, client)


@pytest.fixture
async def phone(app: Any) -> Any:
    """A second device: its own cookie jar."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _funnel(client: httpx.AsyncClient, world: World, channel_id: object) -> Any:
    r = await client.get(f"/api/v1/channels/{channel_id}", headers=world.owner)
    return r.json()["funnel"]


async def _scans(client: httpx.AsyncClient, world: World, channel_id: object) -> Any:
    r = await client.get(f"/api/v1/channels/{channel_id}/scans", headers=world.owner)
    assert r.status_code == 200
    return r.json()


async def _attribution(client: httpx.AsyncClient, world: World, customer: str) -> Any:
    r = await client.get(f"/api/v1/attribution/customers/{customer}", headers=world.owner)
    assert r.status_code == 200, r.text
    return r.json()


async def test_anonymous_scan_then_login_merges_the_visitor(
    state: AppState, client: httpx.AsyncClient, phone: httpx.AsyncClient, world: World
) -> None:
    code = await create(client, world.owner, {"kind": "guide", "guide": world.guide.public_id})
    r = await phone.get(f"/q/{code['code']}")
    assert r.status_code == 302 and r.headers["location"] == "/m/vero/"
    visitor = phone.cookies[state.settings.visitor_cookie]
    assert visitor.startswith("v_")
    # the same device again: two scans, one visitor, the same id
    await phone.get(f"/q/{code['code']}")
    assert phone.cookies[state.settings.visitor_cookie] == visitor
    assert await _funnel(client, world, code["id"]) == {
        "scans": 2,
        "visitors": 1,
        "members": 0,
        "orders": 0,
        "gmv_fen": 0,
    }
    scans = await _scans(client, world, code["id"])
    assert [(s["visitor"], s["customer"], s["ip"]) for s in scans] == [
        (visitor, None, "127.0.0.1")
    ] * 2
    # logging in to the mall on that device claims the scans and the touches
    login = await phone.post("/api/v1/mall/vero/auth/sandbox", json={"name": "阿花"})
    customer = login.json()["customer"]
    assert {s["customer"] for s in await _scans(client, world, code["id"])} == {customer}
    seen = await _attribution(client, world, customer)
    assert [(t["kind"], t["guide"]["id"]) for t in seen["touches"]] == [
        ("scan", world.guide.public_id)
    ] * 2
    assert seen["binding"]["guide"]["id"] == world.guide.public_id
    assert seen["binding"]["store"]["id"] == world.store


async def test_a_logged_in_customer_is_bound_at_the_scan(
    client: httpx.AsyncClient, phone: httpx.AsyncClient, world: World
) -> None:
    code = await create(client, world.owner, {"kind": "store", "store": world.store})
    await page_login(phone, "vero", "阿明", "/m/vero/")
    me = await phone.get("/api/v1/mall/vero/auth/me")
    customer = me.json()["customer"]
    r = await phone.get(f"/q/{code['code']}")
    assert r.status_code == 302
    assert [s["customer"] for s in await _scans(client, world, code["id"])] == [customer]
    seen = await _attribution(client, world, customer)
    assert seen["binding"]["store"]["id"] == world.store
    assert seen["binding"]["guide"] is None
    assert [t["kind"] for t in seen["touches"]] == ["scan"]


async def test_page_login_claims_the_visitor_too(
    client: httpx.AsyncClient, phone: httpx.AsyncClient, world: World
) -> None:
    code = await create(client, world.owner, {"kind": "placement", "place_name": "街角咖啡"})
    await phone.get(f"/q/{code['code']}")
    await page_login(phone, "vero", "阿强", "/m/vero/")
    customer = (await phone.get("/api/v1/mall/vero/auth/me")).json()["customer"]
    assert [s["customer"] for s in await _scans(client, world, code["id"])] == [customer]
    seen = await _attribution(client, world, customer)
    assert [(t["kind"], t["placement"]) for t in seen["touches"]] == [("scan", "街角咖啡")]
    assert seen["binding"] is None, "a poster placement does not bind"


async def test_codes_go_where_they_point(
    client: httpx.AsyncClient, phone: httpx.AsyncClient, world: World
) -> None:
    product = await create(
        client, world.owner, {"kind": "product", "store": world.store, "product": world.mall.coat}
    )
    join = await create(client, world.owner, {"kind": "join"})
    poster = await create(
        client,
        world.owner,
        {"kind": "placement", "place_name": "杂志", "product": world.mall.coat},
    )
    assert (await phone.get(f"/q/{product['code']}")).headers["location"] == (
        f"/m/vero/p/{world.mall.coat}"
    )
    assert (await phone.get(f"/q/{join['code']}")).headers["location"] == (
        f"/m/vero/join/{join['code']}"
    )
    assert (await phone.get(f"/q/{poster['code']}")).headers["location"] == (
        f"/m/vero/p/{world.mall.coat}"
    )


async def test_scans_are_claimed_only_in_their_own_mall(
    state: AppState, client: httpx.AsyncClient, phone: httpx.AsyncClient, world: World
) -> None:
    code = await create(client, world.owner, {"kind": "store", "store": world.store})
    await phone.get(f"/q/{code['code']}")
    other = await make_merchant(state, "lily", "Lily")
    await make_staff(state, other)
    await api_login(phone, "lily", "阿花")
    assert [s["customer"] for s in await _scans(client, world, code["id"])] == [None]
    lily_owner = await token_for(client, "lily", "13800000001")
    assert (await client.get("/api/v1/channels", headers=lily_owner)).json()["items"] == []
    # logging in to VERO afterwards claims them
    await api_login(phone, "vero", "阿花")
    assert (await _scans(client, world, code["id"]))[0]["customer"] is not None


async def test_a_foreign_visitor_cookie_is_replaced(
    state: AppState, client: httpx.AsyncClient, phone: httpx.AsyncClient, world: World
) -> None:
    code = await create(client, world.owner, {"kind": "join"})
    cookie = state.settings.visitor_cookie
    r = await phone.get(f"/q/{code['code']}", headers={"Cookie": f"{cookie}=x'; DROP TABLE"})
    scans = await _scans(client, world, code["id"])
    assert len(scans) == 1 and scans[0]["visitor"].startswith("v_")
    assert r.cookies[cookie] == scans[0]["visitor"]


@pytest.mark.parametrize("code", ["zzzzzzzzzzzz", "ABC", "a" * 30, "abc%2F..%2Fx"])
async def test_an_unknown_code_gets_a_clear_page(
    client: httpx.AsyncClient, world: World, code: str
) -> None:
    r = await client.get(f"/q/{code}", headers=HTML)
    assert r.status_code == 404
    assert 'id="qr-invalid"' in r.text and 'data-reason="unknown"' in r.text
    assert "二维码无效" in r.text


async def test_a_retired_code_gets_a_clear_page_and_records_nothing(
    client: httpx.AsyncClient, phone: httpx.AsyncClient, world: World
) -> None:
    code = await create(client, world.owner, {"kind": "store", "store": world.store})
    r = await client.patch(
        f"/api/v1/channels/{code['id']}", json={"active": False}, headers=world.owner
    )
    assert r.status_code == 200
    r = await phone.get(f"/q/{code['code']}", headers=HTML)
    assert r.status_code == 404 and 'data-reason="inactive"' in r.text
    assert 'href="/m/vero/"' in r.text
    assert await _scans(client, world, code["id"]) == []
    assert not phone.cookies


async def test_a_suspended_malls_codes_are_not_found(
    state: AppState, client: httpx.AsyncClient, phone: httpx.AsyncClient, world: World
) -> None:
    code = await create(client, world.owner, {"kind": "store", "store": world.store})
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(
            update(Merchant).where(Merchant.id == world.mall.tenant.id).values(status="suspended")
        )
        await uow.commit()
    r = await phone.get(f"/q/{code['code']}", headers=HTML)
    assert r.status_code == 404 and 'data-reason="unknown"' in r.text
