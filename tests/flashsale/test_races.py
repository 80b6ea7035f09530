"""Hundreds of reservation holders hit the database gate at once, through the HTTP API,
on SQLite and PostgreSQL: exactly the stock is sold, one per person, never one more; the
units of unpaid orders come back and sell once to holders who keep trying."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.flashsale import pending, tokens
from loopmall.flashsale.lapse import lapse_unpaid
from loopmall.flashsale.ratelimit import Window
from tests.flashsale.fixtures import (
    Sale,
    holders,
    make_sale,
    order_public_ids,
    orders_by_status,
    remaining,
    sale_stock,
    tickets,
)
from tests.orders.fixtures import login_shopper, pay_order

HOLDERS = 150
STRANGERS = 20
UNITS = 8


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    # One test client is one IP: the per-IP window would refuse the crowd itself.
    return Settings(
        env="test",
        database_url=db_url,
        data_dir=tmp_path / "data",
        auto_migrate=False,
        run_background=False,
        secret_key="test-secret",
        flashsale_rate_per_ip=0,
    )


async def attempt(client: httpx.AsyncClient, state: AppState, sale: Sale, customer: int) -> str:
    token = tokens.issue_token(
        state.settings.secret_key, sale_id=sale.id, customer_id=customer, now=clock.now()
    )
    response = await client.post(
        f"/api/v1/mall/{sale.tenant.slug}/flash/{sale.public_id}/buy", json={"token": token}
    )
    if response.status_code == 200:
        assert response.json()["status"] == "accepted"
        return "accepted"
    return str(response.json()["code"])


async def wave(
    client: httpx.AsyncClient, state: AppState, sale: Sale, customers: list[int]
) -> list[tuple[int, str]]:
    answers = await asyncio.gather(*(attempt(client, state, sale, c) for c in customers))
    return list(zip(customers, answers, strict=True))


async def test_a_crowd_buys_exactly_the_stock_and_lapsed_units_sell_once(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    sale = await make_sale(state, units=UNITS)
    crowd = [s.customer_id for s in await holders(state, sale, HOLDERS)]
    strangers = [
        (await login_shopper(state, sale.tenant, f"路人{i}")).customer_id for i in range(STRANGERS)
    ]

    # Everyone at once; a third of the holders double-click.
    first = await wave(client, state, sale, crowd + crowd[: HOLDERS // 3] + strangers)
    answers = Counter(answer for _, answer in first)
    assert answers["accepted"] == UNITS
    assert set(answers) <= {
        "accepted",
        "flash_sold_out",
        "flash_already_bought",
        "flash_not_reserved",
    }
    assert answers["flash_not_reserved"] == STRANGERS
    winners = [c for c, answer in first if answer == "accepted"]
    assert len(set(winners)) == UNITS  # one per person
    assert set(winners) <= set(crowd)
    assert await remaining(state, sale) == 0

    await pending.settle(state)
    await pending.drain(state, sale.tenant, sale.id)
    sold = await tickets(state, sale)
    assert sorted(t.customer_id for t in sold) == sorted(winners)
    assert {t.status for t in sold} == {"ordered"}
    assert await orders_by_status(state) == {"created": UNITS}
    assert await sale_stock(state, sale) == (UNITS, 0)

    # Half pay; the others let the time run out.
    orders = {t.customer_id: t.order_id for t in sold}
    payers = winners[: UNITS // 2]
    public = await order_public_ids(state)
    for c in payers:
        await pay_order(state, sale.tenant, public[orders[c]])
    frozen_clock.advance(seconds=state.settings.flashsale_pay_within_seconds + 1)
    lapsed = UNITS - len(payers)
    assert await lapse_unpaid(state) == lapsed
    assert await remaining(state, sale) == lapsed

    # The holders keep trying (the lapsed buyers too): the returned units sell once more,
    # once the gate's memory of "sold out" has run out — the promised bound on how long a
    # lapsed unit waits (flashsale_sold_out_memory_seconds). On a quiet machine the lapse
    # above takes less than that, and the whole second wave was told "sold out" from memory.
    await asyncio.sleep(state.settings.flashsale_sold_out_memory_seconds)
    second = await wave(client, state, sale, crowd + crowd)
    again = Counter(answer for _, answer in second)
    assert again["accepted"] == lapsed
    resold_to = [c for c, answer in second if answer == "accepted"]
    assert len(set(resold_to)) == lapsed and not set(resold_to) & set(winners)
    await pending.settle(state)
    await pending.drain(state, sale.tenant, sale.id)

    final = await tickets(state, sale)
    by_status = Counter(t.status for t in final)
    assert by_status == {"paid": len(payers), "lapsed": lapsed, "ordered": lapsed}
    assert len({t.customer_id for t in final}) == len(final)  # nobody twice
    assert await remaining(state, sale) == 0
    # On hand: the units of the orders still unpaid; the paid ones left.
    assert await sale_stock(state, sale) == (UNITS - len(payers), 0)
    assert await orders_by_status(state) == {
        "paid": len(payers),
        "cancelled": lapsed,
        "created": lapsed,
    }


def test_the_rate_window_counts_per_key_per_second() -> None:
    now = [100.2]
    window = Window(3, now=lambda: now[0])
    assert [window.hit("a") for _ in range(4)] == [True, True, True, False]
    assert window.hit("b") is True
    now[0] = 101.0
    assert window.hit("a") is True
    assert Window(0).hit("x") is True
