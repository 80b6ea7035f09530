"""The flash-sale API: staff set a sale up and watch it; shoppers reserve, fetch a
one-time token, buy at the gate and find their order (both backends)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from loopmall.app import create_server_app
from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.flashsale.lean import LeanGate
from tests.factories import make_staff, token_for
from tests.flashsale.fixtures import PRICE, Sale, make_sale, orders_by_status, remaining, tickets
from tests.orders.fixtures import login_shopper, make_shop, pay_in_mall, stock


async def staff_headers(state: AppState, client: httpx.AsyncClient, sale: Sale) -> dict[str, str]:
    await make_staff(state, sale.tenant)
    return await token_for(client, sale.tenant.slug, "13800000001")


def body(sku: str, **extra: object) -> dict[str, object]:
    now = clock.now()
    return {
        "sku": sku,
        "title": "小米手机 微信专享价",
        "price_fen": 99900,
        "stock": 3,
        "reserve_from": now.isoformat(),
        "reserve_until": (now + timedelta(days=6)).isoformat(),
        "starts_at": (now + timedelta(days=6)).isoformat(),
        "ends_at": (now + timedelta(days=6, hours=1)).isoformat(),
    } | extra


async def test_staff_set_up_a_sale_and_bad_input_writes_nothing(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state, online_units=5, store_units=0, sku_count=1)
    await make_staff(state, shop.tenant)
    headers = await token_for(client, "shop", "13800000001")
    sku = shop.skus[0].public_id

    first = body(sku)
    made = await client.post(
        "/api/v1/flash-sales", json=first, headers=headers | {"Idempotency-Key": "fs-1"}
    )
    assert made.status_code == 201, made.text
    sale = made.json()
    assert (sale["stock"], sale["price_fen"], sale["phase"], sale["gate"]) == (
        3,
        99900,
        "reserving",
        "db",
    )
    replay = await client.post(
        "/api/v1/flash-sales", json=first, headers=headers | {"Idempotency-Key": "fs-1"}
    )
    assert replay.json()["id"] == sale["id"]
    # The sale's units left the online stock.
    assert await stock(state, shop.skus[0].id, shop.warehouse_id) == (2, 0)

    bad = [
        (body(sku, stock=0), 422, "validation_failed"),
        (body(sku, stock=3, reserve_until=clock.now().isoformat()), 422, "flash_sale_invalid"),
        (body("sku_nosuchsku0000000"), 404, "not_found"),
        (body(sku, stock=3), 409, "insufficient_stock"),  # only 2 left online
        (body(sku, reserve_from="2026-01-01T00:00:00"), 422, "validation_failed"),  # naive
    ]
    for payload, status, code in bad:
        response = await client.post("/api/v1/flash-sales", json=payload, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code), payload
    listed = await client.get("/api/v1/flash-sales", headers=headers)
    assert [s["id"] for s in listed.json()] == [sale["id"]]
    assert await stock(state, shop.skus[0].id, shop.warehouse_id) == (2, 0)

    live = await client.get(f"/api/v1/flash-sales/{sale['id']}", headers=headers)
    assert live.json()["counts"] == {
        "reservations": 0,
        "accepted": 0,
        "ordered": 0,
        "paid": 0,
        "lapsed": 0,
        "remaining": 3,
        "units_sold": 0,
        "attempts": 0,
    }
    # Another merchant's staff does not see it.
    other = await make_shop(state, "other", online_units=1, store_units=0, sku_count=1)
    await make_staff(state, other.tenant, phone="13800000002")
    theirs = await token_for(client, "other", "13800000002")
    response = await client.get(f"/api/v1/flash-sales/{sale['id']}", headers=theirs)
    assert response.status_code == 404


async def test_reserve_token_buy_order_and_pay(state: AppState, client: httpx.AsyncClient) -> None:
    sale = await make_sale(state, units=2)
    base = f"/api/v1/mall/shop/flash/{sale.public_id}"
    buyer = await login_shopper(state, sale.tenant, "小红")
    late = await login_shopper(state, sale.tenant, "小李")

    seen = (await client.get(base)).json()
    assert (seen["phase"], seen["reserved"], seen["sold_out"], seen["ticket"]) == (
        "live",
        False,
        False,
        None,
    )
    # No reservation, no token.
    refused = await client.post(f"{base}/token", headers=late.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "flash_not_reserved")

    for _ in range(2):  # reserving twice is one reservation
        reserved = await client.post(f"{base}/reservation", headers=buyer.headers)
        assert reserved.status_code == 201 and reserved.json()["reserved"] is True

    token = (await client.post(f"{base}/token", headers=buyer.headers)).json()["token"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = await client.post(f"{base}/buy", json={"token": forged})
    assert (response.status_code, response.json()["code"]) == (403, "flash_token_invalid")

    bought = await client.post(f"{base}/buy", json={"token": token})
    assert bought.status_code == 200, bought.text
    assert bought.json()["status"] == "accepted"
    again = await client.post(f"{base}/buy", json={"token": token})
    assert (again.status_code, again.json()["code"]) == (409, "flash_already_bought")

    ticket = (await client.get(f"{base}/ticket", headers=buyer.headers)).json()
    assert ticket["status"] == "ordered" and ticket["pay_url"] == f"/m/shop/pay/{ticket['order']}"
    assert await orders_by_status(state) == {"created": 1}
    order = await client.get(f"/api/v1/mall/shop/orders/{ticket['order']}", headers=buyer.headers)
    assert order.json()["total_fen"] == PRICE

    await pay_in_mall(state, "shop", ticket["order"])
    ticket = (await client.get(f"{base}/ticket", headers=buyer.headers)).json()
    assert (ticket["status"], ticket["pay_url"]) == ("paid", None)
    assert [t.status for t in await tickets(state, sale)] == ["paid"]
    assert await remaining(state, sale) == 1
    missing = await client.get(f"{base}/ticket", headers=late.headers)
    assert missing.status_code == 404


async def test_the_gate_is_closed_before_the_start_and_for_other_malls(
    state: AppState, client: httpx.AsyncClient
) -> None:
    sale = await make_sale(state, units=2, starts_in=timedelta(minutes=10))
    base = f"/api/v1/mall/shop/flash/{sale.public_id}"
    buyer = await login_shopper(state, sale.tenant, "小红")
    assert (await client.post(f"{base}/reservation", headers=buyer.headers)).status_code == 201
    token = (await client.post(f"{base}/token", headers=buyer.headers)).json()["token"]
    early = await client.post(f"{base}/buy", json={"token": token})
    assert (early.status_code, early.json()["code"]) == (409, "flash_not_live")

    await make_shop(state, "other", online_units=1, store_units=0, sku_count=1)
    elsewhere = await client.get(f"/api/v1/mall/other/flash/{sale.public_id}")
    assert elsewhere.status_code == 404
    assert await tickets(state, sale) == []


async def test_the_served_app_answers_the_gate_in_front_of_fastapi(settings: Settings) -> None:
    """``loopmall serve`` serves ``create_server_app``: the gate and hello are answered
    before FastAPI, everything else passes through to it, lifespan included."""
    served = create_server_app(settings)
    assert isinstance(served, LeanGate) and served.owner is not None
    fastapi_app = served.owner
    async with fastapi_app.router.lifespan_context(fastapi_app):
        state: AppState = fastapi_app.state.loopmall
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            hello = await c.get("/hello")
            assert (hello.status_code, hello.json()) == (200, {"status": "ok"})
            sale = await make_sale(state, units=1)
            base = f"/api/v1/mall/shop/flash/{sale.public_id}"
            buyer = await login_shopper(state, sale.tenant, "小红")
            await c.post(f"{base}/reservation", headers=buyer.headers)
            token = (await c.post(f"{base}/token", headers=buyer.headers)).json()["token"]
            bought = await c.post(f"{base}/buy", json={"token": token})
            assert (bought.status_code, bought.json()["status"]) == (200, "accepted")
            again = await c.post(f"{base}/buy", json={"token": token})
            assert again.headers["content-type"] == "application/problem+json"
            assert again.json()["code"] == "flash_already_bought"
            unknown = await c.post("/api/v1/mall/shop/flash/nosuchsale/buy", json={"token": "x"})
            assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
            ticket = (await c.get(f"{base}/ticket", headers=buyer.headers)).json()
            assert ticket["status"] in ("accepted", "ordered")
