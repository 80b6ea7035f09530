"""What payments relies on: get_payable, mark_paid (also under concurrent duplicate
callbacks), record_refund, face-to-face orders; and the unpaid-order sweep."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.inventory.service import adjust_stock
from loopmall.orders import fulfilment, hooks, service
from loopmall.orders.jobs import sweep_unpaid
from loopmall.orders.models import Order
from loopmall.orders.rules import IllegalOrderTransition, RefundExceedsPaid
from loopmall.orders.service import MarkPaid
from tests.orders.fixtures import (
    BASE_PRICE,
    Shop,
    add,
    count_events,
    events,
    login_shopper,
    make_shop,
    stock,
)
from tests.orders.fixtures import place as place_order


async def _order(
    state: AppState, client: httpx.AsyncClient, **kw: Any
) -> tuple[Shop, dict[str, Any]]:
    shop = await make_shop(state)
    me = await login_shopper(state, shop.tenant)
    await add(client, "shop", me.headers, shop.skus[0].public_id, 2)
    r = await place_order(client, "shop", me.headers, **kw)
    assert r.status_code == 201, r.text
    return shop, r.json()


async def _id(state: AppState, tenant: Tenant, public_id: str) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        return (await service.get_payable_by_public_id(uow.session, tenant, public_id)).id


async def _pay(
    state: AppState, tenant: Tenant, order_id: int, amount: int, payment_id: int = 1
) -> MarkPaid:
    async with UnitOfWork(state.write_factory) as uow:
        result = await service.mark_paid(
            uow.session,
            tenant,
            order_id,
            amount_fen=amount,
            payment_id=payment_id,
            paid_at=clock.now(),
        )
        await uow.commit()
        return result


async def _refund(state: AppState, tenant: Tenant, order_id: int, fen: int, rid: int) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        await service.record_refund(uow.session, tenant, order_id, refund_fen=fen, refund_id=rid)
        await uow.commit()


async def _get(state: AppState, order_id: int) -> Order:
    async with UnitOfWork(state.read_factory) as uow:
        order = await uow.session.get(Order, order_id)
        assert order is not None
        return order


async def test_payable_views(state: AppState, client: httpx.AsyncClient) -> None:
    shop, order = await _order(state, client)
    async with UnitOfWork(state.read_factory) as uow:
        by_public = await service.get_payable_by_public_id(uow.session, shop.tenant, order["id"])
        by_id = await service.get_payable(uow.session, shop.tenant, by_public.id)
        assert by_id == by_public
        assert (by_id.status, by_id.total_fen, by_id.paid_fen, by_id.kind) == (
            "created",
            2 * BASE_PRICE,
            0,
            "mall",
        )
        assert by_id.number == order["number"] and by_id.expires_at is not None
        other = Tenant(shop.tenant.id + 999, "other")
        with pytest.raises(NotFound):
            await service.get_payable(uow.session, other, by_id.id)


async def test_mark_paid_consumes_holds_once_and_refuses_wrong_amounts(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop, order = await _order(state, client)
    oid = await _id(state, shop.tenant, order["id"])
    sku = shop.skus[0]
    assert await _pay(state, shop.tenant, oid, 2 * BASE_PRICE - 1) is MarkPaid.AMOUNT_MISMATCH
    assert await stock(state, sku.id, shop.warehouse_id) == (10, 2)

    assert await _pay(state, shop.tenant, oid, 2 * BASE_PRICE, payment_id=7) is MarkPaid.PAID
    assert await stock(state, sku.id, shop.warehouse_id) == (8, 0)
    paid = await _get(state, oid)
    assert (paid.status, paid.paid_fen, paid.payment_id, paid.expires_at) == (
        "paid",
        2 * BASE_PRICE,
        7,
        None,
    )
    assert await _pay(state, shop.tenant, oid, 2 * BASE_PRICE) is MarkPaid.ALREADY_PAID
    assert await stock(state, sku.id, shop.warehouse_id) == (8, 0)
    (event,) = await events(state, "order.paid")
    assert event.payload["status"] == "paid" and event.payload["paid_fen"] == 2 * BASE_PRICE


async def test_concurrent_duplicate_callbacks_pay_once(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop, order = await _order(state, client)
    oid = await _id(state, shop.tenant, order["id"])
    results = await asyncio.gather(
        *(_pay(state, shop.tenant, oid, 2 * BASE_PRICE, payment_id=i) for i in range(10))
    )
    assert sorted(results) == sorted([MarkPaid.PAID] + [MarkPaid.ALREADY_PAID] * 9)
    assert await count_events(state, "order.paid") == 1
    assert await stock(state, shop.skus[0].id, shop.warehouse_id) == (8, 0)


async def test_unpaid_orders_are_cancelled_by_the_sweep_and_their_holds_released(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    shop, order = await _order(state, client)
    oid = await _id(state, shop.tenant, order["id"])
    sku = shop.skus[0]
    assert await sweep_unpaid(state) == 0  # not yet
    frozen_clock.advance(seconds=state.settings.unpaid_order_ttl_seconds + 1)
    assert await sweep_unpaid(state) == 1
    cancelled = await _get(state, oid)
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "unpaid")
    assert await stock(state, sku.id, shop.warehouse_id) == (10, 0)
    (event,) = await events(state, "order.cancelled")
    assert event.payload["reason"] == "unpaid" and event.payload["order_id"] == oid
    # A payment that arrives now is refused: payments refunds it.
    assert await _pay(state, shop.tenant, oid, 2 * BASE_PRICE) is MarkPaid.CANCELLED
    assert await sweep_unpaid(state) == 0


async def test_a_late_payment_after_the_holds_lapsed(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    shop, order = await _order(state, client)
    oid = await _id(state, shop.tenant, order["id"])
    sku = shop.skus[0]
    # Past the order's time and its holds' grace, before the sweep ran: units still free.
    frozen_clock.advance(hours=2)
    assert await _pay(state, shop.tenant, oid, 2 * BASE_PRICE) is MarkPaid.PAID
    assert await stock(state, sku.id, shop.warehouse_id) == (8, 0)


async def test_a_late_payment_when_the_units_are_gone_cancels(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    shop, order = await _order(state, client)
    oid = await _id(state, shop.tenant, order["id"])
    sku = shop.skus[0]
    frozen_clock.advance(hours=2)
    async with UnitOfWork(state.write_factory) as uow:  # the free units are sold elsewhere
        await adjust_stock(
            uow.session,
            shop.tenant,
            sku_id=sku.id,
            location_id=shop.warehouse_id,
            delta=-9,
            reason="sold in a market",
            actor="system",
        )
        await uow.commit()
    assert await _pay(state, shop.tenant, oid, 2 * BASE_PRICE) is MarkPaid.CANCELLED
    assert (await _get(state, oid)).status == "cancelled"
    assert await stock(state, sku.id, shop.warehouse_id) == (1, 0)
    (event,) = await events(state, "order.cancelled")
    assert event.payload["reason"] == "stock_gone"


async def test_partial_and_full_refunds(state: AppState, client: httpx.AsyncClient) -> None:
    shop, order = await _order(state, client)
    oid = await _id(state, shop.tenant, order["id"])
    total = 2 * BASE_PRICE
    with pytest.raises(IllegalOrderTransition):
        await _refund(state, shop.tenant, oid, 100, 1)  # never paid
    await _pay(state, shop.tenant, oid, total)

    await _refund(state, shop.tenant, oid, 1000, 11)
    await _refund(state, shop.tenant, oid, 1000, 11)  # the same refund again: no change
    partial = await _get(state, oid)
    assert (partial.status, partial.refunded_fen) == ("paid", 1000)
    with pytest.raises(RefundExceedsPaid):
        await _refund(state, shop.tenant, oid, total, 12)
    await _refund(state, shop.tenant, oid, total - 1000, 12)
    full = await _get(state, oid)
    assert (full.status, full.refunded_fen) == ("refunded", total)
    refunded = await events(state, "order.refunded")
    assert [(e.payload["refund_fen"], e.payload["status"]) for e in refunded] == [
        (1000, "paid"),
        (total - 1000, "refunded"),
    ]


async def test_a_refund_request_returns_to_where_it_was_after_a_partial_refund(
    state: AppState, client: httpx.AsyncClient
) -> None:
    shop, order = await _order(state, client)
    oid = await _id(state, shop.tenant, order["id"])
    await _pay(state, shop.tenant, oid, 2 * BASE_PRICE)
    cid = (await _get(state, oid)).customer_id
    assert cid is not None
    async with UnitOfWork(state.write_factory) as uow:
        await fulfilment.request_refund(
            uow.session, shop.tenant, oid, customer_id=cid, reason="too big"
        )
        await uow.commit()
    assert (await _get(state, oid)).status == "refund_requested"
    await _refund(state, shop.tenant, oid, 500, 21)
    back = await _get(state, oid)
    assert (back.status, back.refund_from, back.refunded_fen) == ("paid", None, 500)


async def test_face_to_face_orders_complete_when_paid(state: AppState) -> None:
    shop = await make_shop(state)
    async with UnitOfWork(state.write_factory) as uow:
        payable = await service.create_face_to_face_order(
            uow.session,
            shop.tenant,
            amount_fen=12345,
            store_id=shop.store.id,
            guide_staff_id=None,
            customer_id=None,
            note="",
        )
        await uow.commit()
    assert (payable.kind, payable.status, payable.total_fen, payable.store_id) == (
        "face_to_face",
        "created",
        12345,
        shop.store.id,
    )
    assert payable.customer_id is None and payable.description == "面对面收款"
    assert await _pay(state, shop.tenant, payable.id, 12345) is MarkPaid.PAID
    done = await _get(state, payable.id)
    assert (done.status, done.paid_fen) == ("completed", 12345)
    # The shop's stock set-up announces itself too (stock.adjusted): the order's own here.
    assert [e.topic for e in await events(state) if not e.topic.startswith("stock.")] == [
        "order.created",
        "order.paid",
        "order.completed",
    ]


async def test_hooks_run_around_steps_and_a_before_hook_can_refuse(
    state: AppState, client: httpx.AsyncClient
) -> None:
    seen: list[tuple[str, str]] = []

    async def after_pay(session: object, tenant: Tenant, order: Order) -> None:
        seen.append(("after pay", order.status))

    async def before_create(session: object, tenant: Tenant, order: Order) -> None:
        if order.total_fen > 5 * BASE_PRICE:
            raise RefundExceedsPaid("too much for this test")

    hooks.after("pay")(after_pay)
    hooks.before("create")(before_create)
    try:
        shop, order = await _order(state, client)
        oid = await _id(state, shop.tenant, order["id"])
        await _pay(state, shop.tenant, oid, 2 * BASE_PRICE)
        assert seen == [("after pay", "paid")]

        me = await login_shopper(state, shop.tenant, "大户")
        await add(client, "shop", me.headers, shop.skus[1].public_id, 6)
        refused = await place_order(client, "shop", me.headers)
        assert refused.status_code == 422
        assert await stock(state, shop.skus[1].id, shop.warehouse_id) == (10, 0)
    finally:
        hooks.remove("pay", after_pay)
        hooks.remove("create", before_create)


async def test_unpaid_ttl_reaches_the_order(state: AppState, client: httpx.AsyncClient) -> None:
    shop, order = await _order(state, client)
    o = await _get(state, await _id(state, shop.tenant, order["id"]))
    assert o.expires_at is not None
    ttl = o.expires_at - o.created_at
    assert ttl == timedelta(seconds=state.settings.unpaid_order_ttl_seconds)
