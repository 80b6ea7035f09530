"""Many shoppers check out the last units at once, through the API, on SQLite and
PostgreSQL: exactly the stock is sold, never one more; the losers are told why."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from sqlalchemy import func, select

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.orders import service
from loopmall.orders.jobs import sweep_unpaid
from loopmall.orders.models import Order
from tests.inventory.fixtures import assert_consistent
from tests.orders.fixtures import add, login_shopper, make_shop, pay_order, place, stock

SHOPPERS = 40
UNITS = 5


async def test_concurrent_checkouts_on_the_last_units_never_oversell(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(state, online_units=UNITS, store_units=0, sku_count=1)
    sku = shop.skus[0]
    shoppers = [await login_shopper(state, shop.tenant, f"买家{i}") for i in range(SHOPPERS)]
    for s in shoppers:
        await add(client, "shop", s.headers, sku.public_id, 1)

    responses = await asyncio.gather(
        *(place(client, "shop", s.headers, key=f"race-{i}") for i, s in enumerate(shoppers))
    )
    outcomes = Counter(r.json()["code"] if r.status_code != 201 else "ok" for r in responses)
    assert outcomes["ok"] == UNITS
    # A loser either saw the stock gone while pricing the cart, or lost the hold itself.
    assert set(outcomes) <= {"ok", "insufficient_stock", "cart_lines_unavailable"}
    assert sum(outcomes.values()) == SHOPPERS
    assert await stock(state, sku.id, shop.warehouse_id) == (UNITS, UNITS)

    # Every winner pays (the callbacks racing too): all units sold, none twice.
    winners = [r.json()["id"] for r in responses if r.status_code == 201]

    results = await asyncio.gather(*(pay_order(state, shop.tenant, w) for w in winners + winners))
    assert Counter(results) == {service.MarkPaid.PAID: UNITS, service.MarkPaid.ALREADY_PAID: UNITS}
    assert await stock(state, sku.id, shop.warehouse_id) == (0, 0)
    await assert_consistent(state, shop.tenant, sku.id)
    async with UnitOfWork(state.read_factory) as uow:
        orders = await uow.session.scalar(select(func.count(Order.id)))
    assert orders == UNITS


async def test_a_payment_racing_the_unpaid_sweep_ends_one_way(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    shop = await make_shop(state, online_units=UNITS, store_units=0, sku_count=2)
    a, b = shop.skus
    orders = []
    for i in range(UNITS):
        s = await login_shopper(state, shop.tenant, f"迟到{i}")
        # Half the carts list the SKUs the other way round: their lines (and so their holds)
        # come in opposite orders, which is how two orders could lock levels in a circle.
        for sku in (a, b) if i % 2 else (b, a):
            await add(client, "shop", s.headers, sku.public_id, 1)
        orders.append((await place(client, "shop", s.headers)).json()["id"])
    # Past the orders' time (inside the holds' grace): the sweep and the callbacks race.
    frozen_clock.advance(seconds=state.settings.unpaid_order_ttl_seconds + 1)
    results = await asyncio.gather(
        sweep_unpaid(state), *(pay_order(state, shop.tenant, o) for o in orders)
    )
    paid = sum(1 for r in results[1:] if r is service.MarkPaid.PAID)
    cancelled = sum(1 for r in results[1:] if r is service.MarkPaid.CANCELLED)
    assert paid + cancelled == UNITS and results[0] == cancelled
    async with UnitOfWork(state.read_factory) as uow:
        statuses = Counter((await uow.session.scalars(select(Order.status))).all())
    assert statuses == Counter({"paid": paid, "cancelled": cancelled})
    # Sold units left the shelf; the cancelled orders' units came back.
    for sku in (a, b):
        assert await stock(state, sku.id, shop.warehouse_id) == (UNITS - paid, 0)
        await assert_consistent(state, shop.tenant, sku.id)
