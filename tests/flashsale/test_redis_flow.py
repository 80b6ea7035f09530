"""The Redis gate end to end, on both databases: the lean route, the stream consumer,
lapses back into Redis, reconciliation and repair."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from bench.flashsale.world import World, build_world
from sqlalchemy import func, select

from loopmall.app import create_app
from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale.gate_redis import SaleKeys, drop_sale
from loopmall.flashsale.lapse import lapse_unpaid
from loopmall.flashsale.models import FlashTicket
from loopmall.flashsale.reconcile import reconcile, repair
from loopmall.flashsale.rules import NotReserved, TokenUsed
from loopmall.flashsale.service import reserve_many
from loopmall.flashsale.stream import StreamConsumer
from loopmall.flashsale.tokens import issue_token
from loopmall.orders.models import Order


@pytest.fixture
def redis_settings(settings: Settings, redis_url: str, redis_prefix: str) -> Settings:
    return settings.model_copy(
        update={
            "redis_url": redis_url,
            "redis_prefix": redis_prefix,
            "flashsale_rate_per_ip": 0,
            "flashsale_sold_out_memory_seconds": 0,  # every answer from Redis (but below)
        }
    )


@pytest.fixture
async def redis_app(redis_settings: Settings) -> AsyncIterator[Any]:
    application = create_app(redis_settings)
    async with application.router.lifespan_context(application):
        state: AppState = application.state.loopmall
        yield application
        keys = [k async for k in state.redis.scan_iter(match=f"{redis_settings.redis_prefix}*")]
        if keys:
            await state.redis.delete(*keys)


@pytest.fixture
def rstate(redis_app: Any) -> AppState:
    st: AppState = redis_app.state.loopmall
    return st


@pytest.fixture
async def rclient(redis_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=redis_app, client=("10.0.0.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def token(state: AppState, world: World, customer_id: int) -> str:
    return issue_token(
        state.settings.secret_key, sale_id=world.sale_id, customer_id=customer_id, now=clock.now()
    )


async def buy(client: httpx.AsyncClient, state: AppState, world: World, customer: int) -> Any:
    return await client.post(world.buy_path, json={"token": token(state, world, customer)})


async def drain(state: AppState) -> StreamConsumer:
    """Run a consumer until every accepted request is settled."""
    consumer = StreamConsumer(state, name="test", block_ms=20)
    await consumer.refresh(force=True)
    while await consumer.run_once():
        pass
    return consumer


async def tickets(state: AppState, world: World) -> list[tuple[int, str, str, int | None]]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.execute(
            select(
                FlashTicket.customer_id,
                FlashTicket.request_id,
                FlashTicket.status,
                FlashTicket.order_id,
            ).where(FlashTicket.sale_id == world.sale_id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def check(state: AppState, world: World) -> Any:
    async with UnitOfWork(state.read_factory) as uow:
        return await reconcile(
            uow.session, world.tenant, world.sale_id, state.redis, state.settings.redis_prefix
        )


async def test_hello_is_answered_in_front_of_fastapi(rclient: httpx.AsyncClient) -> None:
    r = await rclient.get("/hello")
    assert (r.status_code, r.json(), r.headers["content-type"]) == (
        200,
        {"status": "ok"},
        "application/json",
    )
    assert (await rclient.post("/hello")).status_code == 404  # only GET: the rest is FastAPI's


async def test_hundreds_of_buyers_through_http_sell_exactly_the_stock(
    rclient: httpx.AsyncClient, rstate: AppState
) -> None:
    """Given 300 holders, 25 units and 40 customers without a reservation, when every one
    tries (a third of the holders double-click and retry), then exactly 25 holders get an
    order each, nobody twice, and Redis and the database agree."""
    world = await build_world(rstate, holders=340, stock=25)
    holders, strangers = world.customer_ids[:300], world.customer_ids[300:]
    async with UnitOfWork(rstate.write_factory) as uow:  # the strangers lose their reservation
        from loopmall.flashsale.models import FlashReservation

        await uow.session.execute(
            FlashReservation.__table__.delete().where(FlashReservation.customer_id.in_(strangers))
        )
        await uow.commit()
    await drain(rstate)  # loads the sale into Redis ahead of the buyers
    rng = random.Random(11)

    async def one(customer: int) -> list[tuple[int, str]]:
        clicks = 1 + (rng.random() < 0.33) * rng.randint(1, 3)
        answers = await asyncio.gather(
            *(buy(rclient, rstate, world, customer) for _ in range(clicks))
        )
        return [(r.status_code, r.json().get("code") or r.json()["status"]) for r in answers]

    results = await asyncio.gather(*(one(c) for c in holders + strangers))
    flat = [a for batch in results for a in batch]
    assert sum(1 for a in flat if a == (200, "accepted")) == 25
    assert {code for _s, code in flat} <= {
        "accepted",
        "flash_sold_out",
        "flash_already_bought",
        "flash_not_reserved",
    }
    assert {a for batch in results[300:] for a in batch} == {
        (NotReserved.status, "flash_not_reserved")
    }, results[300:]

    consumer = await drain(rstate)
    assert consumer.stats.ordered == 25
    found = await tickets(rstate, world)
    assert len(found) == 25
    assert len({t[0] for t in found}) == 25
    assert {t[2] for t in found} == {"ordered"}
    assert set(t[0] for t in found) <= set(holders)
    async with UnitOfWork(rstate.read_factory) as uow:
        orders = await uow.session.scalar(
            select(func.count()).select_from(Order).where(Order.merchant_id == world.tenant.id)
        )
    assert orders == 25
    report = await check(rstate, world)
    assert report.ok, report.problems
    assert (report.redis_left, report.live_units, report.in_flight) == (0, 25, 0)


async def test_bad_attempts_are_refused_with_their_codes(
    rclient: httpx.AsyncClient, rstate: AppState
) -> None:
    world = await build_world(rstate, holders=3, stock=1)
    path = world.buy_path
    await drain(rstate)
    r = await rclient.post(path, json={})
    assert (r.status_code, r.json()["code"]) == (422, "flash_bad_request")
    r = await rclient.post(path, content=b"{nope")
    assert (r.status_code, r.json()["code"]) == (422, "flash_bad_request")
    r = await rclient.post(path, json={"token": "1.2.3.4.5.forged"})
    assert (r.status_code, r.json()["code"]) == (403, "flash_token_invalid")
    other = issue_token(
        rstate.settings.secret_key,
        sale_id=world.sale_id + 1,
        customer_id=world.customer_ids[0],
        now=clock.now(),
    )
    r = await rclient.post(path, json={"token": other})
    assert (r.status_code, r.json()["code"]) == (403, "flash_token_invalid")
    r = await rclient.post(path.replace(world.sale_public_id, "fs_nope"), json={"token": other})
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = await rclient.post(path.replace("/mi/", "/nobody/"), json={"token": other})
    assert r.status_code == 404
    spent = token(rstate, world, world.customer_ids[0])
    r = await rclient.post(path, json={"token": spent})
    assert (r.status_code, r.json()["status"]) == (200, "accepted")
    r = await rclient.post(path, json={"token": spent}, headers={"x-sale-token": spent})
    assert (r.status_code, r.json()["code"]) == (409, "flash_already_bought")
    second = token(rstate, world, world.customer_ids[1])
    assert (await rclient.post(path, json={"token": second})).json()["code"] == "flash_sold_out"
    r = await rclient.post(path, json={"token": second})
    assert (r.status_code, r.json()["code"]) == (TokenUsed.status, "flash_token_used")
    assert r.headers["content-type"] == "application/problem+json"


async def test_not_live_and_warming_up(rclient: httpx.AsyncClient, rstate: AppState) -> None:
    world = await build_world(rstate, holders=2, stock=1, starts_in=timedelta(hours=1))
    r = await buy(rclient, rstate, world, world.customer_ids[0])
    assert (r.status_code, r.json()["code"]) == (409, "flash_not_live")
    live = await build_world(rstate, holders=2, stock=1, slug="mi2")
    r = await buy(rclient, rstate, live, live.customer_ids[0])
    # The first attempt finds the sale missing in Redis and loads it; the next one buys.
    assert (r.status_code, r.json()["code"], r.headers["retry-after"]) == (
        503,
        "flash_warming_up",
        "1",
    )
    r = await buy(rclient, rstate, live, live.customer_ids[0])
    assert r.json()["status"] == "accepted"


async def test_a_lapsed_unit_goes_back_into_redis_once_and_sells_again(
    rclient: httpx.AsyncClient, rstate: AppState
) -> None:
    world = await build_world(rstate, holders=3, stock=1, pay_within_seconds=60)
    first, second, third = world.customer_ids
    await drain(rstate)
    assert (await buy(rclient, rstate, world, first)).json()["status"] == "accepted"
    assert (await buy(rclient, rstate, world, second)).json()["code"] == "flash_sold_out"
    await drain(rstate)
    assert await lapse_unpaid(rstate, now=clock.now() + timedelta(minutes=5)) == 1
    assert await lapse_unpaid(rstate, now=clock.now() + timedelta(minutes=5)) == 0
    report = await check(rstate, world)
    assert report.ok, report.problems
    assert (report.redis_left, report.redis_returned, report.lapsed_units) == (1, 1, 1)
    assert (await buy(rclient, rstate, world, first)).json()["code"] == "flash_already_bought"
    assert (await buy(rclient, rstate, world, second)).json()["status"] == "accepted"
    assert (await buy(rclient, rstate, world, third)).json()["code"] == "flash_sold_out"
    await drain(rstate)
    statuses = sorted((c, s) for c, _r, s, _o in await tickets(rstate, world))
    assert statuses == [(first, "lapsed"), (second, "ordered")]
    assert (await check(rstate, world)).ok


async def test_repair_rebuilds_a_lost_sale_from_the_database(
    rclient: httpx.AsyncClient, rstate: AppState
) -> None:
    """Given a sale half sold, with one request still in the stream, when Redis loses the
    sale's keys but the stream, then the repair restores units, buyers and reservations
    (the request in flight counted), and the sale finishes exactly."""
    world = await build_world(rstate, holders=6, stock=4)
    a, b, c, d, e, f = world.customer_ids
    await drain(rstate)
    for customer in (a, b):
        assert (await buy(rclient, rstate, world, customer)).json()["status"] == "accepted"
    await drain(rstate)
    assert (await buy(rclient, rstate, world, c)).json()["status"] == "accepted"  # in flight
    keys = SaleKeys(rstate.settings.redis_prefix, world.sale_id)
    await rstate.redis.delete(keys.stock, keys.buyers, keys.reservations)
    lost = await check(rstate, world)
    assert not lost.ok
    assert "redis: the sale is not loaded" in lost.problems
    async with UnitOfWork(rstate.read_factory) as uow:
        fixed = await repair(
            uow.session, world.tenant, world.sale_id, rstate.redis, rstate.settings.redis_prefix
        )
    assert fixed.ok, fixed.problems
    assert (fixed.redis_left, fixed.redis_buyers, fixed.in_flight) == (1, 3, 1)
    for customer in (a, c):
        assert (await buy(rclient, rstate, world, customer)).json()["code"] == (
            "flash_already_bought"
        )
    assert (await buy(rclient, rstate, world, d)).json()["status"] == "accepted"
    assert (await buy(rclient, rstate, world, e)).json()["code"] == "flash_sold_out"
    await drain(rstate)
    assert sorted(t[0] for t in await tickets(rstate, world)) == [a, b, c, d]
    final = await check(rstate, world)
    assert final.ok and final.redis_left == 0 and final.live_units == 4
    # Everything lost, the stream too: the database alone rebuilds it.
    await drop_sale(rstate.redis, rstate.settings.redis_prefix, world.sale_id)
    async with UnitOfWork(rstate.read_factory) as uow:
        again = await repair(
            uow.session, world.tenant, world.sale_id, rstate.redis, rstate.settings.redis_prefix
        )
    assert again.ok and (again.redis_left, again.redis_buyers) == (0, 4)
    assert (await buy(rclient, rstate, world, f)).json()["code"] == "flash_sold_out"


async def test_the_lean_route_serves_the_database_gate_without_redis(
    client: httpx.AsyncClient, state: AppState
) -> None:
    world = await build_world(state, holders=2, stock=1)
    a, b = world.customer_ids
    r = await buy(client, state, world, a)
    assert (r.status_code, r.json()["status"]) == (200, "accepted")
    r = await buy(client, state, world, a)
    assert (r.status_code, r.json()["code"]) == (409, "flash_already_bought")
    r = await buy(client, state, world, b)
    assert (r.status_code, r.json()["code"]) == (409, "flash_sold_out")


async def test_a_process_remembers_sold_out_for_a_moment(
    redis_app: Any, rclient: httpx.AsyncClient, rstate: AppState
) -> None:
    """Given the process remembers "sold out" for 0.3 s, a holder's attempt right after is
    refused without Redis (its token stays unspent) and, once a lapsed unit is back and
    the moment has passed, a holder still trying gets it."""
    rstate.settings.flashsale_sold_out_memory_seconds = 0.3
    world = await build_world(rstate, holders=3, stock=1, pay_within_seconds=60)
    first, second, third = world.customer_ids
    await drain(rstate)
    assert (await buy(rclient, rstate, world, first)).json()["status"] == "accepted"
    spent = token(rstate, world, second)
    from_redis = await rclient.post(world.buy_path, json={"token": spent})
    assert from_redis.json()["code"] == "flash_sold_out"
    remembered = await rclient.post(world.buy_path, json={"token": spent})
    assert remembered.json()["code"] == "flash_sold_out"  # Redis would say token used
    # The ready-made answer is the same problem Redis's "sold out" gave, and while the
    # process remembers, a token's signature is not even checked: sold out for anyone.
    assert (remembered.status_code, remembered.headers["content-type"]) == (
        409,
        "application/problem+json",
    )
    assert remembered.content == from_redis.content
    forged = await rclient.post(world.buy_path, json={"token": spent[:-2] + "xx"})
    assert (forged.status_code, forged.json()["code"]) == (409, "flash_sold_out")
    await drain(rstate)
    assert await lapse_unpaid(rstate, now=clock.now() + timedelta(minutes=5)) == 1
    await asyncio.sleep(0.35)
    assert (await buy(rclient, rstate, world, third)).json()["status"] == "accepted"


async def test_a_reservation_made_after_loading_reaches_the_gate(
    rclient: httpx.AsyncClient, rstate: AppState
) -> None:
    """Reservations may stay open into the sale: one made after the sale was loaded into
    Redis is found in the database at the holder's first attempt."""
    world = await build_world(rstate, holders=2, stock=1)
    late = world.customer_ids[1]
    async with UnitOfWork(rstate.write_factory) as uow:
        from loopmall.flashsale.models import FlashReservation

        await uow.session.execute(
            FlashReservation.__table__.delete().where(FlashReservation.customer_id == late)
        )
        await uow.commit()
    await drain(rstate)  # loaded without the late holder
    async with UnitOfWork(rstate.write_factory) as uow:
        await reserve_many(uow.session, world.tenant, world.sale_id, [late])
        await uow.commit()
    r = await buy(rclient, rstate, world, late)
    assert (r.status_code, r.json()["status"]) == (200, "accepted")
    await drain(rstate)
    assert [t[0] for t in await tickets(rstate, world)] == [late]


async def test_redis_out_of_reach_asks_the_buyer_to_retry(
    redis_settings: Settings, rstate: AppState
) -> None:
    world = await build_world(rstate, holders=1, stock=1)
    away = create_app(redis_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    async with away.router.lifespan_context(away):
        transport = httpx.ASGITransport(app=away)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await buy(c, rstate, world, world.customer_ids[0])
    assert (r.status_code, r.json()["code"], r.headers["retry-after"]) == (503, "flash_busy", "1")


async def test_a_non_holder_is_looked_up_once_after_reservations_closed(
    rclient: httpx.AsyncClient, rstate: AppState
) -> None:
    """The crowd's non-holders (issue #21): a "not reserved" from Redis is checked in the
    database once per shopper; once reservations have closed the answer cannot change, so
    the shopper's next attempts are refused without the database."""
    from tests.reads import reading

    # Given a loaded sale whose reservations closed when it started, and a non-holder
    world = await build_world(rstate, holders=1, stock=1)
    await drain(rstate)
    stranger = world.customer_ids[0] + 1000
    # When the non-holder tries twice
    with reading(rstate) as first:
        one = await buy(rclient, rstate, world, stranger)
    with reading(rstate) as again:
        two = await buy(rclient, rstate, world, stranger)
    # Then both are refused, the first after one probe of the reservations, the second
    # without one (the sale's own lookup may run again: its cache lasts a second); the
    # holder still buys
    for r in (one, two):
        assert (r.status_code, r.json()["code"]) == (403, "flash_not_reserved")
    assert len([s for s in first.statements if "flash_reservations" in s]) == 1
    assert not [s for s in again.statements if "flash_reservations" in s]
    holder = await buy(rclient, rstate, world, world.customer_ids[0])
    assert (holder.status_code, holder.json()["status"]) == (200, "accepted")


async def test_after_the_moment_one_attempt_asks_and_the_crowd_takes_its_answer(
    rclient: httpx.AsyncClient, rstate: AppState
) -> None:
    """When the remembered "sold out" runs out, one attempt asks Redis again and the ones
    arriving meanwhile wait for its answer; a probe with no answer within the moment lets
    each of them ask for itself (a unit may be back)."""
    from loopmall.flashsale.lean import GATE_KEY

    rstate.settings.flashsale_sold_out_memory_seconds = 0.2
    world = await build_world(rstate, holders=40, stock=1)
    await drain(rstate)
    first, *crowd = world.customer_ids
    assert (await buy(rclient, rstate, world, first)).json()["status"] == "accepted"
    gate = rstate.extras[GATE_KEY]
    real_try_buy = gate.try_buy
    asked: list[int] = []
    delay = 0.0

    async def counted(sale_id: int, customer_id: int, *args: Any, **kwargs: Any) -> Any:
        asked.append(customer_id)
        await asyncio.sleep(delay)
        return await real_try_buy(sale_id, customer_id, *args, **kwargs)

    gate.try_buy = counted
    assert (await buy(rclient, rstate, world, crowd[0])).json()["code"] == "flash_sold_out"
    # When the moment has passed and 20 attempts come at once, Redis answering at once
    await asyncio.sleep(0.25)
    asked.clear()
    answers = await asyncio.gather(*(buy(rclient, rstate, world, c) for c in crowd[:20]))
    # Then one asked, and all were told "sold out"
    assert {a.json()["code"] for a in answers} == {"flash_sold_out"}
    assert len(asked) == 1
    # And when the probe takes longer than the moment, the others ask for themselves
    await asyncio.sleep(0.25)
    asked.clear()
    delay = 1.0  # far past the moment, even on a busy machine
    answers = await asyncio.gather(*(buy(rclient, rstate, world, c) for c in crowd[20:]))
    assert {a.json()["code"] for a in answers} == {"flash_sold_out"}
    assert len(asked) == len(crowd[20:])
