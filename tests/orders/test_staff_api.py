"""The staff order API: lists with filters and cursors, fulfilment moves, illegal moves as
problem+json, pickup codes (核销) scoped to the staff member's stores; the consumer's
cancel, receipt and refund request."""

from __future__ import annotations

import httpx

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.mall import update_mall_settings
from loopmall.orders.service import MarkPaid
from tests.factories import make_staff, token_for
from tests.inventory.fixtures import make_store
from tests.orders.fixtures import (
    BASE_PRICE,
    STORE_PRICE,
    Shop,
    add,
    events,
    login_shopper,
    make_shop,
    pay_order,
    place,
    stock,
)


async def _owner(state: AppState, client: httpx.AsyncClient, shop: Shop) -> dict[str, str]:
    await make_staff(state, shop.tenant)
    return await token_for(client, shop.tenant.slug, "13800000001")


async def _paid(state: AppState, shop: Shop, public_id: str) -> None:
    assert await pay_order(state, shop.tenant, public_id) is MarkPaid.PAID


async def test_delivery_order_ships_and_completes(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state)
    staff = await _owner(state, client, shop)
    me = await login_shopper(state, shop.tenant)
    await add(client, "shop", me.headers, shop.skus[0].public_id)
    order = (await place(client, "shop", me.headers)).json()
    oid = order["id"]

    early = await client.post(f"/api/v1/orders/{oid}/ship", json={}, headers=staff)
    assert early.status_code == 409
    assert early.headers["content-type"].startswith("application/problem+json")
    assert early.json()["code"] == "illegal_order_transition"
    assert (early.json()["current"], early.json()["target"]) == ("created", "shipped")

    await _paid(state, shop, oid)
    ready = await client.post(f"/api/v1/orders/{oid}/ready", headers=staff)
    assert ready.status_code == 409  # a delivery order never waits for pickup
    shipped = await client.post(
        f"/api/v1/orders/{oid}/ship",
        json={"carrier": "顺丰", "tracking_no": "SF123"},
        headers=staff,
    )
    assert shipped.status_code == 200, shipped.text
    assert (shipped.json()["status"], shipped.json()["tracking_no"]) == ("shipped", "SF123")

    received = await client.post(f"/api/v1/mall/shop/orders/{oid}/receipt", headers=me.headers)
    assert received.json()["status"] == "completed"
    steps = [s["status"] for s in received.json()["steps"]]
    assert steps == ["created", "paid", "shipped", "completed"]
    # The shop's stock set-up announces itself too (stock.adjusted): the order's own here.
    assert [e.topic for e in await events(state) if not e.topic.startswith("stock.")] == [
        "order.created",
        "order.paid",
        "order.shipped",
        "order.completed",
    ]
    (ship_event,) = await events(state, "order.shipped")
    assert ship_event.payload["tracking_no"] == "SF123"


async def test_pickup_code_is_redeemed_once_by_the_right_store(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state)
    owner = await _owner(state, client, shop)
    other_store = await make_store(state, shop.tenant, "S002")
    await make_staff(
        state, shop.tenant, phone="13800000002", role="cashier", store_ids=(shop.store.id,)
    )
    await make_staff(
        state, shop.tenant, phone="13800000003", role="cashier", store_ids=(other_store.id,)
    )
    cashier = await token_for(client, "shop", "13800000002")
    stranger = await token_for(client, "shop", "13800000003")
    me = await login_shopper(state, shop.tenant)
    await add(client, "shop", me.headers, shop.skus[0].public_id, 2)
    order = (await place(client, "shop", me.headers, pickup_store=shop.store.public_id)).json()
    code = order["pickup_code"]

    unpaid = await client.post("/api/v1/orders/pickup/redeem", json={"code": code}, headers=cashier)
    assert unpaid.status_code == 409
    await _paid(state, shop, order["id"])
    assert await stock(state, shop.skus[0].id, shop.store_location_id) == (3, 0)
    ready = await client.post(f"/api/v1/orders/{order['id']}/ready", headers=cashier)
    assert ready.json()["status"] == "ready_for_pickup"
    (ready_event,) = await events(state, "order.ready_for_pickup")
    assert ready_event.payload["pickup_code"] == code

    elsewhere = await client.post(
        "/api/v1/orders/pickup/redeem", json={"code": code}, headers=stranger
    )
    assert elsewhere.status_code == 422 and elsewhere.json()["code"] == "pickup_code_invalid"
    assert (await client.get(f"/api/v1/orders/{order['id']}", headers=stranger)).status_code == 404
    wrong = await client.post(
        "/api/v1/orders/pickup/redeem", json={"code": "00000000"}, headers=cashier
    )
    assert wrong.status_code == 422

    looked_up = await client.get(f"/api/v1/orders/pickup/{code}", headers=cashier)
    assert looked_up.json()["id"] == order["id"]
    # Staff never read the code off the order: the customer shows it.
    assert looked_up.json()["pickup_code"] is None
    listed = (await client.get("/api/v1/orders", headers=owner)).json()["items"]
    assert [o["pickup_code"] for o in listed] == [None]
    spaced = f"{code[:4]} {code[4:]}"  # typed with a space, as the page shows it
    done = await client.post("/api/v1/orders/pickup/redeem", json={"code": spaced}, headers=cashier)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    twice = await client.post("/api/v1/orders/pickup/redeem", json={"code": code}, headers=cashier)
    assert twice.status_code == 409 and twice.json()["code"] == "illegal_order_transition"
    assert (await client.get(f"/api/v1/orders/{order['id']}", headers=owner)).json()[
        "total_fen"
    ] == 2 * STORE_PRICE


async def test_cash_on_delivery_ships_unpaid_and_is_paid_on_completion(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state)
    staff = await _owner(state, client, shop)
    async with UnitOfWork(state.write_factory) as uow:
        await update_mall_settings(uow.session, shop.tenant, cod_enabled=True)
        await uow.commit()
    me = await login_shopper(state, shop.tenant)
    await add(client, "shop", me.headers, shop.skus[0].public_id, 1)
    order = (await place(client, "shop", me.headers, payment_method="cod")).json()
    shipped = await client.post(f"/api/v1/orders/{order['id']}/ship", json={}, headers=staff)
    assert shipped.json()["status"] == "shipped" and shipped.json()["paid_fen"] == 0
    assert await stock(state, shop.skus[0].id, shop.warehouse_id) == (9, 0)
    done = await client.post(f"/api/v1/orders/{order['id']}/complete", headers=staff)
    assert (done.json()["status"], done.json()["paid_fen"]) == ("completed", BASE_PRICE)


async def test_cancel_by_customer_and_staff_releases_holds(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state)
    staff = await _owner(state, client, shop)
    me = await login_shopper(state, shop.tenant)
    sku = shop.skus[0]
    await add(client, "shop", me.headers, sku.public_id, 2)
    first = (await place(client, "shop", me.headers)).json()
    await add(client, "shop", me.headers, sku.public_id, 3)
    second = (await place(client, "shop", me.headers)).json()
    assert await stock(state, sku.id, shop.warehouse_id) == (10, 5)

    mine = await client.post(
        f"/api/v1/mall/shop/orders/{first['id']}/cancel", json={}, headers=me.headers
    )
    assert mine.json()["status"] == "cancelled"
    theirs = await client.post(
        f"/api/v1/orders/{second['id']}/cancel", json={"reason": "缺货"}, headers=staff
    )
    assert theirs.json()["status"] == "cancelled"
    assert await stock(state, sku.id, shop.warehouse_id) == (10, 0)
    again = await client.post(f"/api/v1/orders/{second['id']}/cancel", json={}, headers=staff)
    assert again.status_code == 409
    reasons = [e.payload["reason"] for e in await events(state, "order.cancelled")]
    assert reasons == ["cancelled by customer", "缺货"]


async def test_lists_filter_and_page(state: AppState, client: httpx.AsyncClient) -> None:
    shop = await make_shop(state)
    staff = await _owner(state, client, shop)
    me = await login_shopper(state, shop.tenant)
    ids = []
    for _ in range(5):
        await add(client, "shop", me.headers, shop.skus[1].public_id)
        ids.append((await place(client, "shop", me.headers)).json()["id"])
    await add(client, "shop", me.headers, shop.skus[0].public_id)
    pickup = (await place(client, "shop", me.headers, pickup_store=shop.store.public_id)).json()
    await _paid(state, shop, ids[0])

    page1 = (await client.get("/api/v1/orders?limit=4", headers=staff)).json()
    assert [o["id"] for o in page1["items"]] == [pickup["id"], *ids[::-1][:3]]
    page2 = (
        await client.get(f"/api/v1/orders?limit=4&cursor={page1['next_cursor']}", headers=staff)
    ).json()
    assert [o["id"] for o in page2["items"]] == ids[::-1][3:]
    assert page2["next_cursor"] is None

    paid = (await client.get("/api/v1/orders?status=paid", headers=staff)).json()
    assert [o["id"] for o in paid["items"]] == [ids[0]]
    at_store = (
        await client.get(f"/api/v1/orders?store={shop.store.public_id}", headers=staff)
    ).json()
    assert [o["id"] for o in at_store["items"]] == [pickup["id"]]
    by_number = (await client.get(f"/api/v1/orders?q={pickup['number']}", headers=staff)).json()
    assert [o["id"] for o in by_number["items"]] == [pickup["id"]]
    today = clock.local(clock.now()).date().isoformat()
    dated = (
        await client.get(f"/api/v1/orders?created_from={today}&created_to={today}", headers=staff)
    ).json()
    assert len(dated["items"]) == 6
    bad = await client.get("/api/v1/orders?cursor=!!!", headers=staff)
    assert bad.status_code == 422

    guide_tenant_staff = await make_staff(
        state, shop.tenant, phone="13800000009", role="guide", store_ids=(shop.store.id,)
    )
    guide = await token_for(client, "shop", guide_tenant_staff.phone)
    seen = (await client.get("/api/v1/orders", headers=guide)).json()
    assert [o["id"] for o in seen["items"]] == [pickup["id"]]
    refused = await client.post(f"/api/v1/orders/{pickup['id']}/ready", headers=guide)
    assert refused.status_code == 403


async def test_refund_request_declined_by_staff(state: AppState, client: httpx.AsyncClient) -> None:
    shop = await make_shop(state)
    staff = await _owner(state, client, shop)
    me = await login_shopper(state, shop.tenant)
    await add(client, "shop", me.headers, shop.skus[0].public_id)
    order = (await place(client, "shop", me.headers)).json()
    oid = order["id"]
    unpaid = await client.post(
        f"/api/v1/mall/shop/orders/{oid}/refund-request", json={}, headers=me.headers
    )
    assert unpaid.status_code == 409
    # Declining when nothing was asked never moves the order (not even "back" to paid).
    nothing = await client.post(f"/api/v1/orders/{oid}/decline-refund", json={}, headers=staff)
    assert nothing.status_code == 409 and nothing.json()["current"] == "created"
    await _paid(state, shop, oid)
    asked = await client.post(
        f"/api/v1/mall/shop/orders/{oid}/refund-request",
        json={"reason": "不想要了"},
        headers=me.headers,
    )
    assert asked.json()["status"] == "refund_requested"
    no_ship = await client.post(f"/api/v1/orders/{oid}/ship", json={}, headers=staff)
    assert no_ship.status_code == 409  # frozen while the request is open
    declined = await client.post(
        f"/api/v1/orders/{oid}/decline-refund", json={"reason": "已发货"}, headers=staff
    )
    assert declined.json()["status"] == "paid"
    again = await client.post(f"/api/v1/orders/{oid}/decline-refund", json={}, headers=staff)
    assert again.status_code == 409
    steps = [(s["status"], s["note"]) for s in declined.json()["steps"]]
    assert steps[-2:] == [("refund_requested", "不想要了"), ("paid", "已发货")]


async def test_pay_at_the_counter_pickup(state: AppState, client: httpx.AsyncClient) -> None:
    shop = await make_shop(state)
    staff = await _owner(state, client, shop)
    async with UnitOfWork(state.write_factory) as uow:
        await update_mall_settings(uow.session, shop.tenant, cod_enabled=True)
        await uow.commit()
    me = await login_shopper(state, shop.tenant)
    await add(client, "shop", me.headers, shop.skus[0].public_id, 2)
    order = (
        await place(
            client, "shop", me.headers, pickup_store=shop.store.public_id, payment_method="cod"
        )
    ).json()
    assert order["expires_at"] is None and order["pay_url"] is None
    ready = await client.post(f"/api/v1/orders/{order['id']}/ready", headers=staff)
    assert ready.json()["status"] == "ready_for_pickup"
    assert await stock(state, shop.skus[0].id, shop.store_location_id) == (3, 0)
    done = await client.post(
        "/api/v1/orders/pickup/redeem", json={"code": order["pickup_code"]}, headers=staff
    )
    assert (done.json()["status"], done.json()["paid_fen"]) == ("completed", 2 * STORE_PRICE)


def test_the_unpaid_order_sweep_is_a_periodic_job() -> None:
    from loopmall.core import jobs
    from loopmall.orders import jobs as order_jobs

    (job,) = [j for j in jobs.registered() if j.name == "cancel-unpaid-orders"]
    assert job.run is order_jobs.cancel_unpaid_orders
