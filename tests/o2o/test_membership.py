"""Membership via QR (S0 "follow and join"): a join code's page, joining through the page
and the API, the welcome-coupon grant, and member prices in the product page, the cart and
the order from then on; bad join codes refused with nothing written."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Customer
from loopmall.customers.service import add_wechat_app
from tests.factories import owner_headers
from tests.o2o.world import HTML, World, api_login, create, csrf_of, make_world

MEMBER_FEN = 45000
LIST_FEN = 59900
ADDRESS = {"name": "阿花", "phone": "13812345678", "address": "北京市西城区西单北大街 1 号"}


@pytest.fixture
async def world(state: AppState, client: httpx.AsyncClient) -> World:
    made = await make_world(state, client)
    r = await client.patch(
        f"/api/v1/skus/{made.mall.skus['黑/M']}",
        json={"member_price": MEMBER_FEN},
        headers=made.owner,
    )
    assert r.status_code == 200, r.text
    return made


@pytest.fixture
async def phone(app: Any) -> Any:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def _picker(html: str) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/json" id="picker-data">(.*?)</script>', html, re.S
    )
    assert found is not None
    data: dict[str, Any] = json.loads(found[1])
    return {row["sku"]: row for row in data["skus"]}


async def _cart_prices(client: httpx.AsyncClient, shopper: dict[str, str]) -> list[Any]:
    cart = (await client.get("/api/v1/mall/vero/cart", headers=shopper)).json()
    return [(line["unit_fen"], line["list_fen"]) for line in cart["lines"]]


async def test_joining_brings_member_prices_to_the_product_page_cart_and_order(
    client: httpx.AsyncClient, world: World
) -> None:
    code = await create(
        client,
        world.owner,
        {
            "kind": "join",
            "coupon_title": "新会员礼",
            "coupon_fen": 1000,
            "coupon_threshold_fen": 9900,
        },
    )
    shopper = await api_login(client, "vero", "阿花")
    black_m = world.mall.skus["黑/M"]
    r = await client.post(
        "/api/v1/mall/vero/cart/items", json={"sku": black_m, "quantity": 1}, headers=shopper
    )
    assert r.status_code == 200, r.text
    # not a member yet: the list price
    assert await _cart_prices(client, shopper) == [(LIST_FEN, LIST_FEN)]
    page = await client.get(f"/m/vero/p/{world.mall.coat}", headers=HTML | shopper)
    assert _picker(page.text)[black_m]["price"] == LIST_FEN
    assert 'id="member-price"' not in page.text
    before = (await client.get("/api/v1/mall/vero/membership", headers=shopper)).json()
    assert before == {"member": False, "id": None, "joined_at": None, "welcome_coupon": None}

    joined = await client.post(f"/api/v1/mall/vero/join/{code['code']}", headers=shopper)
    assert joined.status_code == 201, joined.text
    body = joined.json()
    assert body["member"] is True and body["id"].startswith("mem_")
    assert body["welcome_coupon"] == {
        "title": "新会员礼",
        "amount_fen": 1000,
        "threshold_fen": 9900,
        "status": "pending",
    }
    again = await client.post(f"/api/v1/mall/vero/join/{code['code']}", headers=shopper)
    assert again.status_code == 200 and again.json() == body

    assert await _cart_prices(client, shopper) == [(MEMBER_FEN, LIST_FEN)]
    page = await client.get(f"/m/vero/p/{world.mall.coat}", headers=HTML | shopper)
    prices = _picker(page.text)
    assert prices[black_m]["price"] == MEMBER_FEN
    assert prices[world.mall.skus["驼/L"]]["price"] == LIST_FEN, "no member price: unchanged"
    assert 'id="member-price"' in page.text and "会员价" in page.text
    order = await client.post(
        "/api/v1/mall/vero/checkout",
        json={"fulfilment": "delivery", "address": ADDRESS},
        headers=shopper,
    )
    assert order.status_code == 201, order.text
    assert order.json()["total_fen"] == MEMBER_FEN
    listed = (await client.get(f"/api/v1/channels/{code['id']}", headers=world.owner)).json()
    assert listed["funnel"]["members"] == 1


async def test_the_join_page_from_scan_to_member(
    client: httpx.AsyncClient, phone: httpx.AsyncClient, world: World
) -> None:
    code = await create(
        client, world.owner, {"kind": "join", "poster_title": "关注并入会", "coupon_fen": 500}
    )
    landing = await phone.get(f"/q/{code['code']}")
    join_path = landing.headers["location"]
    assert join_path == f"/m/vero/join/{code['code']}"
    page = await phone.get(join_path, headers=HTML)
    assert page.status_code == 200 and "关注并入会" in page.text
    assert 'id="join-login"' in page.text and 'id="welcome-coupon"' in page.text
    login = await phone.get(f"/m/vero/login?next={join_path}")
    r = await phone.post(
        "/m/vero/login/sandbox",
        data={"name": "阿花", "phone": "", "next": join_path, "csrf_token": csrf_of(login.text)},
    )
    assert r.headers["location"] == join_path
    page = await phone.get(join_path, headers=HTML)
    assert 'id="join-button"' in page.text and 'data-member="no"' in page.text
    # the form needs the session's CSRF token
    refused = await phone.post(join_path, data={})
    assert refused.status_code == 403
    r = await phone.post(join_path, data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == f"{join_path}?joined=1"
    done = await phone.get(r.headers["location"], headers=HTML)
    assert 'data-member="yes"' in done.text and "欢迎！您已成为会员。" in done.text
    member = (await phone.get("/api/v1/mall/vero/membership")).json()
    assert member["member"] is True and member["welcome_coupon"]["amount_fen"] == 500
    customer = (await phone.get("/api/v1/mall/vero/auth/me")).json()["customer"]
    seen = await client.get(f"/api/v1/attribution/customers/{customer}", headers=world.owner)
    assert [t["kind"] for t in seen.json()["touches"]] == ["join"]


async def test_bad_join_codes_are_refused_and_nothing_written(
    state: AppState, client: httpx.AsyncClient, world: World
) -> None:
    store_code = await create(client, world.owner, {"kind": "store", "store": world.store})
    retired = await create(client, world.owner, {"kind": "join"})
    await client.patch(
        f"/api/v1/channels/{retired['id']}", json={"active": False}, headers=world.owner
    )
    _rival, rival_owner = await owner_headers(state, client, "rival")
    theirs = await create(client, rival_owner, {"kind": "join"})
    shopper = await api_login(client, "vero", "阿花")
    for code, status, problem in (
        (store_code["code"], 404, "channel_not_found"),
        (theirs["code"], 404, "channel_not_found"),
        (retired["code"], 404, "channel_inactive"),
        ("zzzzzzzzzzzz", 404, "channel_not_found"),
        ("NOT-A-CODE", 422, "validation_failed"),
    ):
        r = await client.post(f"/api/v1/mall/vero/join/{code}", headers=shopper)
        assert (r.status_code, r.json()["code"]) == (status, problem), code
    anonymous = await client.post(f"/api/v1/mall/vero/join/{theirs['code']}")
    assert anonymous.status_code == 401
    member = (await client.get("/api/v1/mall/vero/membership", headers=shopper)).json()
    assert member["member"] is False
    for code in (store_code["code"], theirs["code"]):
        page = await client.get(f"/m/vero/join/{code}", headers=HTML)
        assert page.status_code == 404 and 'id="qr-invalid"' in page.text
    page = await client.get(f"/m/vero/join/{retired['code']}", headers=HTML)
    assert page.status_code == 404 and 'data-reason="inactive"' in page.text


async def test_the_join_page_invites_to_follow_the_service_account(
    state: AppState, client: httpx.AsyncClient, phone: httpx.AsyncClient, world: World
) -> None:
    code = await create(client, world.owner, {"kind": "join"})
    join_path = f"/m/vero/join/{code['code']}"
    async with UnitOfWork(state.write_factory) as uow:
        await add_wechat_app(
            uow.session,
            world.mall.tenant,
            appid="wx0123456789abcdef",
            secret="s",
            name="VERO 服务号",
        )
        await uow.commit()
    anonymous = await phone.get(join_path, headers=HTML)
    assert 'id="follow-prompt"' not in anonymous.text, "who to invite is not known yet"
    shopper = await api_login(phone, "vero", "阿花")
    page = await phone.get(join_path, headers=HTML | shopper)
    assert 'id="follow-prompt"' in page.text and "关注「VERO 服务号」微信服务号" in page.text
    customer = (await phone.get("/api/v1/mall/vero/auth/me", headers=shopper)).json()["customer"]
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(
            update(Customer).where(Customer.public_id == customer).values(followed=True)
        )
        await uow.commit()
    page = await phone.get(join_path, headers=HTML | shopper)
    assert 'id="follow-prompt"' not in page.text, "already following"
