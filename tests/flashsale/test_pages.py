"""Flash-sale pages through cookies and forms: the console sets a sale up and watches it;
the mall page shows the countdown, takes a reservation, and shows the buyer's order."""

from __future__ import annotations

from datetime import timedelta

import httpx

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import cookie_name, csrf_for, sandbox_login
from loopmall.flashsale.materialize import BuyRequest, materialize
from tests.catalog.conftest import console_login
from tests.factories import make_staff
from tests.flashsale.fixtures import holders, make_sale, tickets
from tests.orders.fixtures import make_shop, stock

HTML = {"Accept": "text/html"}


def local(minutes: int) -> str:
    return clock.local(clock.now() + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


async def test_the_console_creates_a_sale_and_refuses_a_bad_one(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state, online_units=10, store_units=0, sku_count=1)
    await make_staff(state, shop.tenant)
    csrf = await console_login(client, "shop", "13800000001")
    page = await client.get("/console/flash-sales", headers=HTML)
    assert page.status_code == 200 and "新建秒杀" in page.text
    form = {
        "csrf_token": csrf,
        "sku": shop.skus[0].public_id,
        "title": "小米手机 微信专享",
        "price": "1999",
        "stock": "4",
        "per_person_limit": "1",
        "pay_within_minutes": "15",
        "reserve_from": local(0),
        "reserve_until": local(60),
        "starts_at": local(60),
        "ends_at": local(120),
    }
    bad = await client.post(
        "/console/flash-sales", data=form | {"ends_at": local(30)}, headers=HTML
    )
    assert bad.status_code == 422 and 'data-field="starts_at"' in bad.text
    assert await stock(state, shop.skus[0].id, shop.warehouse_id) == (10, 0)

    made = await client.post("/console/flash-sales", data=form, headers=HTML)
    assert made.status_code == 303
    watch = await client.get(made.headers["location"], headers=HTML)
    assert watch.status_code == 200
    assert "小米手机 微信专享" in watch.text and 'data-figure="remaining">4<' in watch.text
    assert await stock(state, shop.skus[0].id, shop.warehouse_id) == (6, 0)


async def test_the_mall_page_reserves_and_shows_the_order(
    state: AppState, client: httpx.AsyncClient
) -> None:
    sale = await make_sale(state, units=2, starts_in=timedelta(minutes=5))
    url = f"/m/shop/flash/{sale.public_id}"
    anonymous = await client.get(url, headers=HTML)
    assert anonymous.status_code == 200 and "登录后预约" in anonymous.text
    assert 'id="countdown"' in anonymous.text

    async with UnitOfWork(state.write_factory) as uow:
        customer, token = await sandbox_login(uow.session, sale.tenant, name="小红")
        csrf = await csrf_for(uow.session, sale.tenant, token)
        await uow.commit()
    client.cookies.set(cookie_name(state.settings, "shop"), token)
    assert 'id="reserve"' in (await client.get(url, headers=HTML)).text
    refused = await client.post(f"{url}/reserve", data={}, headers=HTML)
    assert refused.status_code == 403  # no CSRF token
    reserved = await client.post(f"{url}/reserve", data={"csrf_token": csrf}, headers=HTML)
    assert reserved.status_code == 303
    assert "预约成功" in (await client.get(url, headers=HTML)).text

    # At the sale the buyer's ticket becomes an order: the page offers to pay it.
    await holders(state, sale, 0)
    async with UnitOfWork(state.write_factory) as uow:
        (outcome,) = await materialize(
            uow.session,
            sale.tenant,
            sale.id,
            [BuyRequest("page-1", customer.id, 1, clock.now())],
        )
        await uow.commit()
    page = await client.get(url, headers=HTML)
    assert f'href="/m/shop/pay/{outcome.order_public_id}"' in page.text
    assert [t.status for t in await tickets(state, sale)] == ["ordered"]
    missing = await client.get("/m/shop/flash/fs_nosuchsale00000000", headers=HTML)
    assert missing.status_code == 404
