"""Order pages through cookies and forms: the mall's cart, checkout, orders and order (with
the pickup code and its QR), and the console's orders, order actions and pickup counter."""

from __future__ import annotations

import re

import httpx

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import cookie_name, csrf_for, sandbox_login
from tests.catalog.conftest import console_login
from tests.factories import make_staff
from tests.orders.fixtures import STORE_PRICE, Shop, make_shop, stock
from tests.orders.test_staff_api import _paid

HTML = {"Accept": "text/html"}


async def _shopper_cookie(state: AppState, client: httpx.AsyncClient, shop: Shop) -> str:
    async with UnitOfWork(state.write_factory) as uow:
        _customer, token = await sandbox_login(uow.session, shop.tenant, name="小明")
        csrf = await csrf_for(uow.session, shop.tenant, token)
        await uow.commit()
    client.cookies.set(cookie_name(state.settings, shop.tenant.slug), token)
    return csrf


async def test_a_visitor_is_sent_to_log_in(state: AppState, client: httpx.AsyncClient) -> None:
    await make_shop(state)
    r = await client.get("/m/shop/cart", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == "/m/shop/login?next=/m/shop/cart"
    assert (await client.get("/m/nosuch/cart", headers=HTML)).status_code == 404
    # The product page's add-to-cart form, before logging in: back to the cart afterwards.
    posted = await client.post("/m/shop/cart/items", data={"sku": "sku_x", "qty": "1"})
    assert posted.headers["location"] == "/m/shop/login?next=/m/shop/cart"


async def test_buy_with_pickup_through_the_mall_pages(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state)
    csrf = await _shopper_cookie(state, client, shop)
    a = shop.skus[0]
    added = await client.post(
        "/m/shop/cart/items", data={"sku": a.public_id, "qty": "2", "csrf_token": csrf}
    )
    assert added.status_code == 303 and added.headers["location"] == "/m/shop/cart"
    no_csrf = await client.post("/m/shop/cart/items", data={"sku": a.public_id, "qty": "1"})
    assert no_csrf.status_code == 403

    cart = await client.get("/m/shop/cart", headers=HTML)
    assert cart.status_code == 200
    assert 'id="cart-lines"' in cart.text and "¥198.00" in cart.text and "购物车" in cart.text

    checkout = await client.get("/m/shop/checkout?fulfilment=pickup", headers=HTML)
    assert shop.store.public_id in checkout.text
    assert f"¥{2 * STORE_PRICE // 100}.00" in checkout.text  # the store's price
    placed = await client.post(
        "/m/shop/checkout",
        data={
            "fulfilment": "pickup",
            "store": shop.store.public_id,
            "payment_method": "online",
            "csrf_token": csrf,
        },
    )
    assert placed.status_code == 303
    match = re.fullmatch(r"/m/shop/pay/(ord_\w+)", placed.headers["location"])
    assert match is not None
    order_id = match[1]
    assert await stock(state, a.id, shop.store_location_id) == (5, 2)
    again = await client.post(
        "/m/shop/checkout",
        data={"fulfilment": "pickup", "store": shop.store.public_id, "csrf_token": csrf},
    )
    assert again.headers["location"] == "/m/shop/orders"  # a second press: no second order

    listing = await client.get("/m/shop/orders", headers=HTML)
    assert order_id in listing.text and "待付款" in listing.text
    detail = await client.get(f"/m/shop/orders/{order_id}", headers=HTML)
    assert 'id="pickup-code"' not in detail.text  # not before it is paid
    assert f'href="/m/shop/pay/{order_id}"' in detail.text
    assert 'data-fragment="/m/shop/follow-invite"' in detail.text

    await _paid(state, shop, order_id)
    paid = await client.get(f"/m/shop/orders/{order_id}", headers=HTML)
    code = re.search(r'id="pickup-code">(\d{4}) (\d{4})<', paid.text)
    assert code is not None
    assert "<svg" in paid.text and "已支付" in paid.text

    # The store hands it over at the console's pickup counter.
    await make_staff(
        state, shop.tenant, phone="13800000002", role="cashier", store_ids=(shop.store.id,)
    )
    staff = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with staff:
        staff_csrf = await console_login(staff, "shop", "13800000002")
        found = await staff.get(f"/console/pickup?code={code[1]}{code[2]}", headers=HTML)
        assert 'id="redeem"' in found.text
        done = await staff.post(
            "/console/pickup", data={"code": f"{code[1]} {code[2]}", "csrf_token": staff_csrf}
        )
        assert done.status_code == 303
        shown = await staff.get(done.headers["location"], headers=HTML)
        assert "已完成" in shown.text
        twice = await staff.post(
            "/console/pickup",
            data={"code": code[1] + code[2], "csrf_token": staff_csrf},
            headers=HTML,
        )
        assert twice.status_code == 409 and "订单当前状态不允许此操作" in twice.text
    done_page = await client.get(f"/m/shop/orders/{order_id}", headers=HTML)
    assert 'data-status="completed"' in done_page.text


async def test_console_lists_filters_and_ships(state: AppState, client: httpx.AsyncClient) -> None:
    shop = await make_shop(state)
    csrf = await _shopper_cookie(state, client, shop)
    await client.post(
        "/m/shop/cart/items", data={"sku": shop.skus[1].public_id, "qty": "1", "csrf_token": csrf}
    )
    placed = await client.post(
        "/m/shop/checkout",
        data={
            "fulfilment": "delivery",
            "name": "李雷",
            "phone": "13900000000",
            "address": "上海市",
            "csrf_token": csrf,
        },
    )
    order_id = placed.headers["location"].rsplit("/", 1)[1]
    await _paid(state, shop, order_id)
    client.cookies.clear()

    await make_staff(state, shop.tenant)
    staff_csrf = await console_login(client, "shop", "13800000001")
    listing = await client.get("/console/orders?status=paid", headers=HTML)
    assert f'data-order="{order_id}"' in listing.text
    none = await client.get("/console/orders?status=shipped", headers=HTML)
    assert f'data-order="{order_id}"' not in none.text and "没有符合条件的订单" in none.text
    detail = await client.get(f"/console/orders/{order_id}", headers=HTML)
    assert 'id="ship"' in detail.text and 'id="refund-form"' in detail.text
    assert f'action="/console/orders/{order_id}/refunds"' in detail.text
    shipped = await client.post(
        f"/console/orders/{order_id}/ship",
        data={"carrier": "顺丰", "tracking_no": "SF1", "csrf_token": staff_csrf},
    )
    assert shipped.status_code == 303
    after = await client.get(shipped.headers["location"], headers=HTML)
    assert "已发货" in after.text and "SF1" in after.text
    illegal = await client.post(
        f"/console/orders/{order_id}/ready", data={"csrf_token": staff_csrf}, headers=HTML
    )
    assert illegal.status_code == 409
