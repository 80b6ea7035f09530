"""A store sale's price comes from the price pipeline, a guide's discount from the merchant's
rule, and commission from money received (issue #11, case 1), through the HTTP API on both
databases: the original attack, a discount within the cap, beyond it without and with an
approval, a declined discount, and the generic 'complete' that must not skip the till."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from loopmall.catalog.prices import set_channel_price
from loopmall.catalog.schemas import ChannelPriceIn
from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.models import OutboxEvent
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.guides.models import GuideHold
from loopmall.members.models import Membership
from loopmall.orders.models import Order, OrderLine
from loopmall.rebates.models import CommissionEntry
from tests.factories import MadeStaff, make_staff, token_for
from tests.guides.fixtures import MORNING, World, make_world, start_chat

CAMEL_L = "驼/L"
BASE = 59900  # the camel coat's base price (no store price in the seed)


async def _hold(client: httpx.AsyncClient, world: World, headers: dict[str, str]) -> str:
    conversation = await start_chat(client, world, "想买大衣")
    held = await client.post(
        "/api/v1/guides/holds",
        json={"conversation": conversation, "sku": world.skus[CAMEL_L], "ttl_seconds": 3600},
        headers=headers,
    )
    assert held.status_code == 201, held.text
    hold_id: str = held.json()["id"]
    return hold_id


async def _sell(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    hold = await _hold(client, world, world.guide_headers)
    return await client.post(f"/api/v1/guides/holds/{hold}/sale", json=body, headers=headers)


async def _count(state: AppState, model: Any, *criteria: Any) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        stmt = select(func.count()).select_from(model).where(*criteria)
        return int(await uow.session.scalar(stmt) or 0)


async def _credited(state: AppState) -> list[int]:
    """The amounts attribution credited (the base of every commission), after delivery."""
    await state.extras["dispatcher"].drain()
    async with UnitOfWork(state.read_factory) as uow:
        rows = (
            await uow.session.scalars(
                select(OutboxEvent.payload)
                .where(OutboxEvent.topic == "attribution.credited")
                .order_by(OutboxEvent.id)
            )
        ).all()
    return [int(r["amount_fen"]) for r in rows]


async def _guide_commission(state: AppState) -> list[tuple[int, int]]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.execute(
            select(CommissionEntry.base_fen, CommissionEntry.amount_fen)
            .where(CommissionEntry.role == "guide")
            .order_by(CommissionEntry.id)
        )
        return [(int(b), int(a)) for b, a in rows.all()]


async def _setup(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> tuple[World, dict[str, str], MadeStaff, dict[str, str]]:
    """The world, the cashier's headers, and a store manager of the guide's store; guides
    earn 10 % commission."""
    frozen_clock.set(MORNING)
    world = await make_world(state, client)
    cashier = await token_for(client, world.tenant.slug, world.cashier.phone)
    manager = await make_staff(
        state,
        world.tenant,
        phone="13800000006",
        role="store_manager",
        name="店长",
        store_ids=(world.store_id,),
    )
    manager_headers = await token_for(client, world.tenant.slug, manager.phone)
    rules = await client.put(
        "/api/v1/commission/rules",
        json={"store_bp": 0, "guide_bp": 1000, "level1_bp": 0, "level2_bp": 0},
        headers=world.owner,
    )
    assert rules.status_code == 200, rules.text
    return world, cashier, manager, manager_headers


async def _cap(client: httpx.AsyncClient, world: World, cap_bp: int) -> None:
    put = await client.put(
        "/api/v1/mall/settings/guide-discount", json={"cap_bp": cap_bp}, headers=world.owner
    )
    assert put.status_code == 200, put.text


async def test_a_guide_can_not_set_the_price_nor_complete_an_unpaid_sale(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    world, cashier, _manager, _mh = await _setup(state, client, frozen_clock)
    # The original attack: a price of 0 or 100,000,000 fen, on the hold and the fitting.
    hold = await _hold(client, world, world.guide_headers)
    for unit_fen in (0, 100_000_000):
        minted = await client.post(
            f"/api/v1/guides/holds/{hold}/sale",
            json={"unit_fen": unit_fen},
            headers=world.guide_headers,
        )
        assert minted.status_code == 422, minted.text
        assert minted.json()["code"] == "validation_failed"
    # A 'final price' above the store's price is no discount either.
    raised = await client.post(
        f"/api/v1/guides/holds/{hold}/sale",
        json={"discount": {"final_unit_fen": 100_000_000}},
        headers=world.guide_headers,
    )
    assert (raised.status_code, raised.json()["code"]) == (422, "discount_invalid")
    assert raised.json()["price_fen"] == BASE
    two_forms = await client.post(
        f"/api/v1/guides/holds/{hold}/sale",
        json={"discount": {"off_fen": 1, "off_bp": 1}},
        headers=world.guide_headers,
    )
    assert (two_forms.status_code, two_forms.json()["code"]) == (422, "discount_invalid")
    # With the cap at 0 (the default), a price of 0 waits for an approver.
    free = await client.post(
        f"/api/v1/guides/holds/{hold}/sale",
        json={"discount": {"final_unit_fen": 0}},
        headers=world.guide_headers,
    )
    assert free.status_code == 200, free.text
    order = free.json()["order"]
    assert free.json()["status"] == "active"  # rung up, not sold: no money yet
    sale = (await client.get(f"/api/v1/store-sales/{order}", headers=cashier)).json()
    assert (sale["status"], sale["total_fen"], sale["paid_fen"]) == ("created", 0, 0)
    assert sale["lines"][0]["discount_approval"] == "pending"
    # The till refuses it; the guide has no right to take money; the generic 'complete'
    # (cash collected) no longer completes an unpaid store sale.
    refused = await client.post(
        f"/api/v1/store-sales/{order}/receipt", json={"amount_fen": 0}, headers=cashier
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "discount_not_approved")
    by_guide = await client.post(
        f"/api/v1/store-sales/{order}/receipt", json={"amount_fen": 0}, headers=world.guide_headers
    )
    assert by_guide.status_code == 403
    completed = await client.post(f"/api/v1/orders/{order}/complete", headers=cashier)
    assert (completed.status_code, completed.json()["code"]) == (409, "illegal_order_transition")
    # Nothing completed, nothing paid, nobody credited.
    assert await _count(state, Order, Order.status == "completed") == 0
    assert await _count(state, Order, Order.paid_fen > 0) == 0
    assert await _credited(state) == []
    assert await _guide_commission(state) == []


async def test_the_price_is_the_store_channel_price_and_a_members_price(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    world, cashier, _manager, _mh = await _setup(state, client, frozen_clock)
    async with UnitOfWork(state.write_factory) as uow:
        await set_channel_price(
            uow.session,
            world.tenant,
            world.skus[CAMEL_L],
            ChannelPriceIn(
                channel="store", store=world.store_public_id, price=52900, member_price=49900
            ),
        )
        await uow.commit()
    sold = await _sell(client, world, {}, world.guide_headers)
    assert sold.status_code == 200, sold.text
    sale = (await client.get(f"/api/v1/store-sales/{sold.json()['order']}", headers=cashier)).json()
    line = sale["lines"][0]
    assert (line["list_fen"], line["price_fen"], line["unit_fen"], line["discount_fen"]) == (
        52900,
        52900,
        52900,
        0,
    )
    assert (sale["total_fen"], line["discount_approval"], line["discount_by"]) == (
        52900,
        "none",
        None,
    )
    # The customer joins: the store's member price applies to the next sale.
    async with UnitOfWork(state.write_factory) as uow:
        uow.session.add(
            Membership(
                merchant_id=world.tenant.id,
                public_id=new_public_id("mem"),
                customer_id=world.customer_id,
                status="active",
                joined_at=clock.now(),
            )
        )
        await uow.commit()
    member = await _sell(client, world, {}, world.guide_headers)
    assert member.status_code == 200, member.text
    sale = (
        await client.get(f"/api/v1/store-sales/{member.json()['order']}", headers=cashier)
    ).json()
    assert (sale["lines"][0]["list_fen"], sale["total_fen"]) == (52900, 49900)


async def test_a_discount_within_the_cap_and_commission_on_the_money_received(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    world, cashier, _manager, _mh = await _setup(state, client, frozen_clock)
    await _cap(client, world, 1000)  # a guide may give 10 % alone
    sold = await _sell(client, world, {"discount": {"off_bp": 1000}}, world.guide_headers)
    assert sold.status_code == 200, sold.text
    order = sold.json()["order"]
    sale = (await client.get(f"/api/v1/store-sales/{order}", headers=cashier)).json()
    line = sale["lines"][0]
    assert (line["price_fen"], line["unit_fen"], line["discount_fen"]) == (BASE, 53910, 5990)
    assert (line["discount_approval"], line["discount_by"]) == (
        "within_cap",
        world.guide.public_id,
    )
    # Rung up is not paid: nobody is credited yet.
    assert await _credited(state) == []
    short = await client.post(
        f"/api/v1/store-sales/{order}/receipt", json={"amount_fen": 100}, headers=cashier
    )
    assert (short.status_code, short.json()["code"]) == (422, "till_amount_mismatch")
    assert short.json()["total_fen"] == 53910
    paid = await client.post(
        f"/api/v1/store-sales/{order}/receipt", json={"amount_fen": 53910}, headers=cashier
    )
    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["paid_fen"]) == ("completed", 53910)
    assert await _credited(state) == [53910]
    assert await _guide_commission(state) == [(53910, 5391)]
    async with UnitOfWork(state.read_factory) as uow:
        status = await uow.session.scalar(select(GuideHold.status))
    assert status == "sold"
    # The money is taken once.
    again = await client.post(
        f"/api/v1/store-sales/{order}/receipt", json={"amount_fen": 53910}, headers=cashier
    )
    assert (again.status_code, again.json()["code"]) == (409, "illegal_order_transition")
    # One fen beyond the cap is beyond it (exact, no rounding in the guide's favour).
    over = await _sell(client, world, {"discount": {"off_fen": 5991}}, world.guide_headers)
    over_sale = (
        await client.get(f"/api/v1/store-sales/{over.json()['order']}", headers=cashier)
    ).json()
    assert over_sale["lines"][0]["discount_approval"] == "pending"


async def test_a_discount_beyond_the_cap_needs_an_approver_who_is_not_the_guide(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    world, cashier, manager, manager_headers = await _setup(state, client, frozen_clock)
    await _cap(client, world, 500)
    sold = await _sell(client, world, {"discount": {"final_unit_fen": 49900}}, world.guide_headers)
    assert sold.status_code == 200, sold.text
    order = sold.json()["order"]
    waiting = await client.get("/api/v1/store-sales", headers=manager_headers)
    assert [s["id"] for s in waiting.json()] == [order]
    # Without approval the till takes nothing; the guide can not approve; a store manager
    # of another store does not see the sale.
    early = await client.post(
        f"/api/v1/store-sales/{order}/receipt", json={"amount_fen": 49900}, headers=cashier
    )
    assert (early.status_code, early.json()["code"]) == (409, "discount_not_approved")
    own = await client.post(f"/api/v1/store-sales/{order}/approve", headers=world.guide_headers)
    assert own.status_code == 403
    elsewhere = await make_staff(
        state,
        world.tenant,
        phone="13800000007",
        role="store_manager",
        name="国贸店长",
        store_ids=(world.other_store_id,),
    )
    other_headers = await token_for(client, world.tenant.slug, elsewhere.phone)
    hidden = await client.post(f"/api/v1/store-sales/{order}/approve", headers=other_headers)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")
    assert await _credited(state) == []
    # The store manager approves, logged in as themselves: recorded on the line.
    approved = await client.post(f"/api/v1/store-sales/{order}/approve", headers=manager_headers)
    assert approved.status_code == 200, approved.text
    line = approved.json()["lines"][0]
    assert (line["discount_fen"], line["discount_approval"]) == (10000, "approved")
    assert (line["discount_by"], line["discount_approved_by"]) == (
        world.guide.public_id,
        manager.public_id,
    )
    twice = await client.post(f"/api/v1/store-sales/{order}/approve", headers=manager_headers)
    assert (twice.status_code, twice.json()["code"]) == (409, "discount_not_pending")
    paid = await client.post(
        f"/api/v1/store-sales/{order}/receipt", json={"amount_fen": 49900}, headers=cashier
    )
    assert paid.status_code == 200, paid.text
    assert await _credited(state) == [49900]
    assert await _guide_commission(state) == [(49900, 4990)]
    # A store manager who gives a discount beyond the cap themselves can't approve it.
    mine = await _sell(client, world, {"discount": {"off_bp": 2000}}, manager_headers)
    assert mine.status_code == 200, mine.text
    self_approved = await client.post(
        f"/api/v1/store-sales/{mine.json()['order']}/approve", headers=manager_headers
    )
    assert (self_approved.status_code, self_approved.json()["code"]) == (
        403,
        "discount_self_approval",
    )
    by_owner = await client.post(
        f"/api/v1/store-sales/{mine.json()['order']}/approve", headers=world.owner
    )
    assert by_owner.status_code == 200, by_owner.text


async def test_a_declined_discount_cancels_the_sale_and_gives_the_units_back(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    world, cashier, _manager, manager_headers = await _setup(state, client, frozen_clock)
    sold = await _sell(client, world, {"discount": {"off_fen": 100}}, world.guide_headers)
    order = sold.json()["order"]
    # The guide can't release a hold rung up as a sale (the till or staff end it).
    hold = sold.json()["id"]
    release = await client.post(f"/api/v1/guides/holds/{hold}/release", headers=world.guide_headers)
    assert (release.status_code, release.json()["code"]) == (409, "hold_not_active")
    declined = await client.post(f"/api/v1/store-sales/{order}/decline", headers=manager_headers)
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "cancelled"
    async with UnitOfWork(state.read_factory) as uow:
        status = await uow.session.scalar(select(GuideHold.status))
        lines = (await uow.session.scalars(select(OrderLine))).all()
    assert status == "released"
    assert [(x.discount_fen, x.discount_approval) for x in lines] == [(100, "pending")]
    late = await client.post(
        f"/api/v1/store-sales/{order}/receipt", json={"amount_fen": BASE - 100}, headers=cashier
    )
    assert late.status_code == 409
    assert await _credited(state) == []


async def test_the_fitting_outcome_takes_a_discount_not_a_price(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    world, cashier, _manager, _mh = await _setup(state, client, frozen_clock)
    await _cap(client, world, 1000)
    hold = await _hold(client, world, world.guide_headers)
    conversation = (
        await client.get("/api/v1/guides/conversations", headers=world.guide_headers)
    ).json()[0]["id"]
    booked = await client.post(
        "/api/v1/guides/fittings",
        json={"conversation": conversation, "starts_at": "2026-11-23T10:30:00+08:00", "hold": hold},
        headers=world.guide_headers,
    )
    assert booked.status_code == 201, booked.text
    outcome = f"/api/v1/guides/fittings/{booked.json()['id']}/outcome"
    for unit_fen in (0, 100_000_000):
        minted = await client.post(
            outcome, json={"outcome": "sold", "unit_fen": unit_fen}, headers=world.guide_headers
        )
        assert (minted.status_code, minted.json()["code"]) == (422, "validation_failed")
    wrong = await client.post(
        outcome,
        json={"outcome": "released", "discount": {"off_bp": 500}},
        headers=world.guide_headers,
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "validation_failed")
    assert await _count(state, Order) == 0
    sold = await client.post(
        outcome,
        json={"outcome": "sold", "discount": {"off_bp": 500}},
        headers=world.guide_headers,
    )
    assert sold.status_code == 200, sold.text
    order = sold.json()["order"]
    sale = (await client.get(f"/api/v1/store-sales/{order}", headers=cashier)).json()
    assert (sale["status"], sale["total_fen"]) == ("created", 56905)
    assert sale["lines"][0]["discount_approval"] == "within_cap"
    assert await _credited(state) == []
    paid = await client.post(
        f"/api/v1/store-sales/{order}/receipt", json={"amount_fen": 56905}, headers=cashier
    )
    assert paid.status_code == 200, paid.text
    assert await _credited(state) == [56905]


async def test_the_console_page_takes_the_money_and_approves_discounts(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    world, cashier, _manager, manager_headers = await _setup(state, client, frozen_clock)
    await _cap(client, world, 1000)
    within = (
        await _sell(client, world, {"discount": {"off_bp": 1000}}, world.guide_headers)
    ).json()
    beyond = (
        await _sell(client, world, {"discount": {"off_bp": 2000}}, world.guide_headers)
    ).json()
    page = await client.get("/console/store-sales", headers=cashier)
    assert page.status_code == 200
    assert page.text.count('class="store-sale"') == 2
    # The cashier takes money for the sale within the cap only; approving is not theirs.
    assert page.text.count("till-form") == 1 and "approve-discount" not in page.text
    refused = await client.post(
        f"/console/store-sales/{beyond['order']}/approve", headers=cashier, follow_redirects=False
    )
    assert refused.status_code == 403
    managed = await client.get("/console/store-sales", headers=manager_headers)
    assert managed.text.count("approve-discount") == 1
    approved = await client.post(
        f"/console/store-sales/{beyond['order']}/approve",
        headers=manager_headers,
        follow_redirects=False,
    )
    assert approved.headers["location"] == "/console/store-sales?notice=approved"
    typo = await client.post(
        f"/console/store-sales/{within['order']}/receipt",
        data={"amount": "五百"},
        headers=cashier,
        follow_redirects=False,
    )
    assert typo.headers["location"] == "/console/store-sales?error=validation_failed"
    short = await client.post(
        f"/console/store-sales/{within['order']}/receipt",
        data={"amount": "500"},
        headers=cashier,
        follow_redirects=False,
    )
    assert short.headers["location"] == "/console/store-sales?error=till_amount_mismatch"
    shown = await client.get(short.headers["location"], headers=cashier)
    assert "实收金额与应收金额不符" in shown.text
    paid = await client.post(
        f"/console/store-sales/{within['order']}/receipt",
        data={"amount": "539.10"},
        headers=cashier,
        follow_redirects=False,
    )
    assert paid.headers["location"] == "/console/store-sales?notice=paid"
    left = await client.get("/console/store-sales", headers=cashier)
    assert left.text.count('class="store-sale"') == 1 and "till-form" in left.text
    assert await _credited(state) == [53910]
