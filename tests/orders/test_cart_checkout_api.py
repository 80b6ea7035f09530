"""Cart and checkout through the consumer API, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
from sqlalchemy import update

from loopmall.catalog.models import Product, Sku
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.mall import update_mall_settings
from loopmall.merchants.models import Store
from tests.orders.fixtures import (
    BASE_PRICE,
    STORE_PRICE,
    add,
    events,
    login_shopper,
    make_shop,
    place,
    stock,
)


async def test_cart_prices_online_and_for_the_pickup_store(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state)
    me = await login_shopper(state, shop.tenant)
    a, b = shop.skus
    await add(client, "shop", me.headers, a.public_id, 2)
    r = await add(client, "shop", me.headers, b.public_id, 1)
    await add(client, "shop", me.headers, a.public_id, 1)  # quantities add up

    cart = (await client.get("/api/v1/mall/shop/cart", headers=me.headers)).json()
    assert [(x["sku"], x["quantity"], x["unit_fen"]) for x in cart["lines"]] == [
        (a.public_id, 3, BASE_PRICE),
        (b.public_id, 1, BASE_PRICE),
    ]
    assert cart["total_fen"] == 4 * BASE_PRICE and cart["ok"] is True
    assert r.json()["count"] == 3

    at_store = (
        await client.get(f"/api/v1/mall/shop/cart?store={shop.store.public_id}", headers=me.headers)
    ).json()
    assert at_store["channel"] == "store"
    assert [x["unit_fen"] for x in at_store["lines"]] == [STORE_PRICE, BASE_PRICE]
    assert at_store["total_fen"] == 3 * STORE_PRICE + BASE_PRICE

    put = await client.put(
        f"/api/v1/mall/shop/cart/items/{a.public_id}", json={"quantity": 1}, headers=me.headers
    )
    assert [x["quantity"] for x in put.json()["lines"]] == [1, 1]
    gone = await client.delete(f"/api/v1/mall/shop/cart/items/{b.public_id}", headers=me.headers)
    assert [x["sku"] for x in gone.json()["lines"]] == [a.public_id]


async def test_unavailable_lines_are_explained_and_block_checkout(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state, online_units=2, sku_count=3)
    me = await login_shopper(state, shop.tenant)
    a, b, c = shop.skus
    await add(client, "shop", me.headers, a.public_id, 3)  # only 2 online
    await add(client, "shop", me.headers, b.public_id, 1)
    await add(client, "shop", me.headers, c.public_id, 1)
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(update(Sku).where(Sku.id == b.id).values(status="inactive"))
        await uow.session.execute(
            update(Sku).where(Sku.id == c.id).values(sales_scope="store_only")
        )
        await uow.commit()

    cart = (await client.get("/api/v1/mall/shop/cart", headers=me.headers)).json()
    assert [(x["problem"], x["available_units"]) for x in cart["lines"]] == [
        ("not_enough_stock", 2),
        ("not_for_sale", 2),
        ("not_sold_in_channel", 2),
    ]
    assert cart["ok"] is False and cart["total_fen"] == 0

    refused = await place(client, "shop", me.headers)
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "cart_lines_unavailable"
    assert [x["problem"] for x in body["lines"]] == [
        "not_enough_stock",
        "not_for_sale",
        "not_sold_in_channel",
    ]
    assert await stock(state, a.id, shop.warehouse_id) == (2, 0)


async def test_delivery_checkout_holds_online_stock_and_empties_the_cart(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state)
    me = await login_shopper(state, shop.tenant)
    a, b = shop.skus
    await add(client, "shop", me.headers, a.public_id, 2)
    await add(client, "shop", me.headers, b.public_id, 1)

    r = await place(client, "shop", me.headers, key="k-1")
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "created"
    assert order["fulfilment"] == "delivery" and order["payment_method"] == "online"
    assert order["total_fen"] == 3 * BASE_PRICE
    assert order["pay_url"] == f"/m/shop/pay/{order['id']}"
    assert order["pickup_code"] is None
    assert order["address"] == "上海市静安区南京西路 1 号"
    assert [(x["sku"], x["quantity"], x["line_fen"]) for x in order["lines"]] == [
        (a.public_id, 2, 2 * BASE_PRICE),
        (b.public_id, 1, BASE_PRICE),
    ]
    assert await stock(state, a.id, shop.warehouse_id) == (10, 2)
    assert await stock(state, a.id, shop.store_location_id) == (5, 0)
    cart = (await client.get("/api/v1/mall/shop/cart", headers=me.headers)).json()
    assert cart["lines"] == []

    # The same key again: the same order, not a second one (and nothing more held).
    again = await place(client, "shop", me.headers, key="k-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == order["id"]
    assert await stock(state, a.id, shop.warehouse_id) == (10, 2)

    created = await events(state, "order.created")
    assert len(created) == 1
    payload = created[0].payload
    assert payload["order_public_id"] == order["id"]
    assert payload["customer_id"] == me.customer_id
    assert payload["merchant_id"] == shop.tenant.id
    assert (payload["status"], payload["total_fen"], payload["kind"]) == (
        "created",
        3 * BASE_PRICE,
        "mall",
    )
    assert "pickup_code" not in payload

    # An empty cart cannot be checked out.
    empty = await place(client, "shop", me.headers)
    assert empty.status_code == 422 and empty.json()["code"] == "cart_empty"


async def test_pickup_checkout_holds_at_the_store_with_its_price_and_a_pickup_code(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state)
    me = await login_shopper(state, shop.tenant)
    a = shop.skus[0]
    await add(client, "shop", me.headers, a.public_id, 2)
    stores = (await client.get("/api/v1/mall/shop/pickup-stores", headers=me.headers)).json()
    assert [s["id"] for s in stores["items"]] == [shop.store.public_id]

    r = await place(client, "shop", me.headers, pickup_store=shop.store.public_id)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["fulfilment"] == "pickup" and order["store"] == shop.store.public_id
    assert order["total_fen"] == 2 * STORE_PRICE
    assert len(order["pickup_code"]) == 8 and order["pickup_code"].isdigit()
    assert await stock(state, a.id, shop.store_location_id) == (5, 2)
    assert await stock(state, a.id, shop.warehouse_id) == (10, 0)
    (created,) = await events(state, "order.created")
    assert created.payload["pickup_code"] == order["pickup_code"]


async def test_pickup_needs_a_store_that_offers_it(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state)
    me = await login_shopper(state, shop.tenant)
    await add(client, "shop", me.headers, shop.skus[0].public_id)
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(
            update(Store).where(Store.id == shop.store.id).values(pickup_enabled=False)
        )
        await uow.commit()
    r = await place(client, "shop", me.headers, pickup_store=shop.store.public_id)
    assert r.status_code == 422 and r.json()["code"] == "pickup_not_available"
    no_address = await client.post(
        "/api/v1/mall/shop/checkout", json={"fulfilment": "delivery"}, headers=me.headers
    )
    assert no_address.status_code == 422 and no_address.json()["code"] == "address_required"


async def test_cash_on_delivery_only_where_the_mall_takes_it(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state)
    me = await login_shopper(state, shop.tenant)
    await add(client, "shop", me.headers, shop.skus[0].public_id)
    refused = await place(client, "shop", me.headers, payment_method="cod")
    assert refused.status_code == 422 and refused.json()["code"] == "cod_not_enabled"

    async with UnitOfWork(state.write_factory) as uow:
        await update_mall_settings(uow.session, shop.tenant, cod_enabled=True)
        await uow.commit()
    r = await place(client, "shop", me.headers, payment_method="cod")
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["payment_method"] == "cod" and order["expires_at"] is None
    assert order["pay_url"] is None


async def test_shoppers_see_only_their_own_orders_and_carts(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state)
    me = await login_shopper(state, shop.tenant)
    other = await login_shopper(state, shop.tenant, "小红")
    await add(client, "shop", me.headers, shop.skus[0].public_id)
    order = (await place(client, "shop", me.headers)).json()

    assert (await client.get("/api/v1/mall/shop/cart", headers=other.headers)).json()["lines"] == []
    theirs = await client.get(f"/api/v1/mall/shop/orders/{order['id']}", headers=other.headers)
    assert theirs.status_code == 404
    cancel = await client.post(
        f"/api/v1/mall/shop/orders/{order['id']}/cancel", json={}, headers=other.headers
    )
    assert cancel.status_code == 404
    mine = (await client.get("/api/v1/mall/shop/orders", headers=me.headers)).json()
    assert [o["id"] for o in mine["items"]] == [order["id"]]
    assert (await client.get("/api/v1/mall/shop/orders", headers=other.headers)).json()[
        "items"
    ] == []
    anonymous = await client.get("/api/v1/mall/shop/cart")
    assert anonymous.status_code == 401


async def test_a_product_taken_off_sale_cannot_be_added(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state)
    me = await login_shopper(state, shop.tenant)
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(update(Product).values(status="archived"))
        await uow.commit()
    r = await client.post(
        "/api/v1/mall/shop/cart/items",
        json={"sku": shop.skus[0].public_id, "quantity": 1},
        headers=me.headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "not_for_sale"
    unknown = await client.post(
        "/api/v1/mall/shop/cart/items", json={"sku": "sku_nope", "quantity": 1}, headers=me.headers
    )
    assert unknown.status_code == 404
