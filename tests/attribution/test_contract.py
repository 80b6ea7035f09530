"""The functions other domains call: touches, visitor claims, bindings and their take-over
rules, a guide's customers, hand-over, and crediting an order from its outbox event."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from loopmall.attribution import service
from loopmall.attribution.rulebook import save_rules
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.mall import update_mall_settings
from loopmall.orders.service import create_face_to_face_order, mark_paid
from tests.attribution.world import (
    bind,
    buy,
    credits,
    customer,
    deliver,
    make_world,
    outbox,
    touch,
)
from tests.orders.fixtures import add, place


async def test_touch_refuses_bad_input_and_writes_nothing(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    async with UnitOfWork(state.write_factory) as uow:
        for kw, code in (
            ({"kind": "poke", "customer_id": None, "visitor_id": "v1"}, "touch_invalid"),
            ({"kind": "scan", "customer_id": None, "visitor_id": None}, "touch_invalid"),
            ({"kind": "scan", "customer_id": None, "visitor_id": "v" * 65}, "touch_invalid"),
        ):
            with pytest.raises(service.InvalidTouch) as err:
                await service.record_touch(uow.session, w.tenant, **kw)  # type: ignore[arg-type]
            assert err.value.code == code
        await uow.commit()
    async with UnitOfWork(state.read_factory) as uow:
        from sqlalchemy import func, select

        from loopmall.attribution.models import Touch

        assert await uow.session.scalar(select(func.count(Touch.id))) == 0


async def test_visitor_scans_are_claimed_on_login_and_bind_to_the_first_store(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    w = await make_world(state, client)
    start = clock.now()
    await touch(
        state,
        w.tenant,
        kind="scan",
        customer_id=None,
        visitor_id="dev-1",
        store_id=w.store.id,
        at=start,
    )
    await touch(
        state,
        w.tenant,
        kind="scan",
        customer_id=None,
        visitor_id="dev-1",
        store_id=w.other_store.id,
        guide_staff_id=w.other_guide,
        at=start + timedelta(hours=1),
    )
    await touch(
        state,
        w.tenant,
        kind="scan",
        customer_id=None,
        visitor_id="dev-2",
        store_id=w.other_store.id,
    )
    me, _ = await customer(state, w.tenant)
    async with UnitOfWork(state.write_factory) as uow:
        assert await service.claim_visitor(uow.session, w.tenant, "dev-1", me) == 2
        await uow.commit()
    async with UnitOfWork(state.write_factory) as uow:
        assert await service.claim_visitor(uow.session, w.tenant, "dev-1", me) == 0
        binding = await service.get_binding(uow.session, w.tenant, me)
        assert binding is not None
        assert (binding.store_id, binding.guide_staff_id, binding.source) == (
            w.store.id,
            None,
            "claim",
        )


async def test_binding_stands_until_the_quiet_time_then_is_taken_over(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    w = await make_world(state, client)
    async with UnitOfWork(state.write_factory) as uow:
        await save_rules(uow.session, w.tenant, {"takeover_after_days": 10})
        await uow.commit()
    me, _ = await customer(state, w.tenant)
    assert await bind(
        state, w.tenant, me, store_id=w.store.id, guide_staff_id=None, source="scan"
    ) == (w.store.id, None)
    # A guide of the same store joins the binding.
    assert await bind(
        state, w.tenant, me, store_id=w.store.id, guide_staff_id=w.guide, source="chat"
    ) == (w.store.id, w.guide)
    frozen_clock.advance(days=9)
    assert (
        await bind(
            state,
            w.tenant,
            me,
            store_id=w.other_store.id,
            guide_staff_id=w.other_guide,
            source="scan",
        )
        is None
    )
    # The bound guide's own touch counts as contact: the quiet time starts again.
    await touch(
        state,
        w.tenant,
        kind="guide",
        customer_id=me,
        visitor_id=None,
        guide_staff_id=w.guide,
        store_id=w.store.id,
    )
    frozen_clock.advance(days=9)
    assert (
        await bind(
            state,
            w.tenant,
            me,
            store_id=w.other_store.id,
            guide_staff_id=w.other_guide,
            source="scan",
        )
        is None
    )
    frozen_clock.advance(days=1)
    assert await bind(
        state, w.tenant, me, store_id=w.other_store.id, guide_staff_id=w.other_guide, source="scan"
    ) == (
        w.other_store.id,
        w.other_guide,
    )
    async with UnitOfWork(state.read_factory) as uow:
        binding = await service.get_binding(uow.session, w.tenant, me)
        assert binding is not None
        assert [(h["to_store_id"], h["to_guide_staff_id"]) for h in binding.history] == [
            (w.store.id, w.guide),
            (w.other_store.id, w.other_guide),
        ]


async def test_no_takeover_when_the_rules_say_never(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    w = await make_world(state, client)
    async with UnitOfWork(state.write_factory) as uow:
        await save_rules(uow.session, w.tenant, {"takeover_after_days": 0})
        await uow.commit()
    me, _ = await customer(state, w.tenant)
    await bind(state, w.tenant, me, store_id=w.store.id, guide_staff_id=w.guide, source="scan")
    frozen_clock.advance(days=3000)
    assert (
        await bind(
            state,
            w.tenant,
            me,
            store_id=w.other_store.id,
            guide_staff_id=w.other_guide,
            source="scan",
        )
        is None
    )


async def test_bound_customers_and_hand_over(state: AppState, client: httpx.AsyncClient) -> None:
    w = await make_world(state, client)
    a, _ = await customer(state, w.tenant, "甲")
    b, _ = await customer(state, w.tenant, "乙")
    c, _ = await customer(state, w.tenant, "丙")
    await bind(state, w.tenant, a, store_id=w.store.id, guide_staff_id=w.guide, source="scan")
    await bind(state, w.tenant, b, store_id=w.store.id, guide_staff_id=w.guide, source="chat")
    await bind(state, w.tenant, c, store_id=w.store.id, guide_staff_id=None, source="scan")
    async with UnitOfWork(state.write_factory) as uow:
        s = uow.session
        mine = await service.bound_customers(s, w.tenant, guide_staff_id=w.guide)
        assert sorted(x.customer_id for x in mine) == [a, b]
        assert len(await service.bound_customers(s, w.tenant, store_id=w.store.id)) == 3
        with pytest.raises(service.NotAGuide):
            await service.hand_over(
                s, w.tenant, from_guide_staff_id=w.guide, to_guide_staff_id=w.cashier, actor="owner"
            )
        with pytest.raises(service.NotAGuide):
            await service.hand_over(
                s, w.tenant, from_guide_staff_id=w.guide, to_guide_staff_id=w.guide, actor="owner"
            )
        moved = await service.hand_over(
            s, w.tenant, from_guide_staff_id=w.guide, to_guide_staff_id=w.other_guide, actor="owner"
        )
        assert moved == 2
        await uow.commit()
    async with UnitOfWork(state.read_factory) as uow:
        s = uow.session
        assert await service.bound_customers(s, w.tenant, guide_staff_id=w.guide) == []
        theirs = await service.bound_customers(s, w.tenant, guide_staff_id=w.other_guide)
        # The new guide works in the other store only: the customers follow them there.
        assert sorted((x.customer_id, x.store_id, x.source) for x in theirs) == [
            (a, w.other_store.id, "hand_over"),
            (b, w.other_store.id, "hand_over"),
        ]


async def test_paid_order_is_credited_once_by_last_touch(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    w = await make_world(state, client)
    me, headers = await customer(state, w.tenant)
    sharer, _ = await customer(state, w.tenant, "分享者")
    upstream, _ = await customer(state, w.tenant, "上游")
    now = clock.now()
    await touch(
        state,
        w.tenant,
        kind="scan",
        customer_id=me,
        visitor_id=None,
        store_id=w.other_store.id,
        channel_id=7,
        at=now - timedelta(days=20),
    )
    first = await touch(
        state,
        w.tenant,
        kind="scan",
        customer_id=me,
        visitor_id=None,
        store_id=w.store.id,
        guide_staff_id=w.guide,
        channel_id=8,
        at=now - timedelta(days=3),
    )
    share = await touch(
        state,
        w.tenant,
        kind="share",
        customer_id=me,
        visitor_id=None,
        share_id=11,
        sharer_customer_id=sharer,
        upstream_sharer_customer_id=upstream,
        at=now - timedelta(days=1),
    )
    order_id, public_id = await buy(state, client, w, headers)
    # A touch after the order never counts.
    await touch(
        state,
        w.tenant,
        kind="scan",
        customer_id=me,
        visitor_id=None,
        store_id=w.other_store.id,
        placement="报刊亭",
        at=now + timedelta(days=1),
    )
    assert await deliver(state, "order.paid") == 1
    assert await deliver(state, "order.paid") == 1  # delivered twice: credited once
    got = await credits(state, order_id)
    assert sorted(got) == ["guide", "sharer", "store", "upstream_sharer"]
    assert (got["store"].store_id, got["store"].rule, got["store"].touch_id) == (
        w.store.id,
        "last_touch:scan",
        first,
    )
    assert (got["guide"].guide_staff_id, got["guide"].channel_id) == (w.guide, 8)
    assert (got["sharer"].sharer_customer_id, got["sharer"].share_id, got["sharer"].touch_id) == (
        sharer,
        11,
        share,
    )
    assert got["upstream_sharer"].sharer_customer_id == upstream
    assert {c.amount_fen for c in got.values()} == {2 * 9900}
    events = await outbox(state, "attribution.credited")
    assert len(events) == 1
    assert events[0]["order_public_id"] == public_id
    assert events[0]["amount_fen"] == 2 * 9900
    assert sorted(c["role"] for c in events[0]["credits"]) == sorted(got)
    assert {c["credit_id"] for c in events[0]["credits"]} == {c.id for c in got.values()}


async def test_bound_customer_online_order_credits_the_store_without_touches(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    me, headers = await customer(state, w.tenant)
    await bind(state, w.tenant, me, store_id=w.store.id, guide_staff_id=w.guide, source="scan")
    order_id, _ = await buy(state, client, w, headers)
    await deliver(state, "order.paid")
    got = await credits(state, order_id)
    assert {r: (c.store_id, c.guide_staff_id, c.rule) for r, c in got.items()} == {
        "store": (w.store.id, None, "binding"),
        "guide": (w.store.id, w.guide, "binding"),
    }


async def test_face_to_face_payment_credits_the_code_store_and_guide(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    me, _ = await customer(state, w.tenant)
    # The customer's last touch was the other store: the 收款码 still wins.
    await touch(
        state,
        w.tenant,
        kind="scan",
        customer_id=me,
        visitor_id=None,
        store_id=w.other_store.id,
        guide_staff_id=w.other_guide,
    )
    async with UnitOfWork(state.write_factory) as uow:
        order = await create_face_to_face_order(
            uow.session,
            w.tenant,
            amount_fen=12345,
            store_id=w.store.id,
            guide_staff_id=w.guide,
            customer_id=me,
            note="",
        )
        await mark_paid(
            uow.session, w.tenant, order.id, amount_fen=12345, payment_id=1, paid_at=clock.now()
        )
        await uow.commit()
    await deliver(state, "order.paid")
    await deliver(state, "order.completed")
    got = await credits(state, order.id)
    assert {r: (c.store_id, c.guide_staff_id, c.rule, c.amount_fen) for r, c in got.items()} == {
        "store": (w.store.id, None, "payment_code", 12345),
        "guide": (w.store.id, w.guide, "payment_code", 12345),
    }
    assert len(await outbox(state, "attribution.credited")) == 1


async def test_unpaid_order_is_not_credited(state: AppState, client: httpx.AsyncClient) -> None:
    w = await make_world(state, client)
    me, headers = await customer(state, w.tenant)
    await touch(state, w.tenant, kind="scan", customer_id=me, visitor_id=None, store_id=w.store.id)
    order_id, _ = await buy(state, client, w, headers, pay=False)
    assert await deliver(state, "order.paid") == 0
    assert await credits(state, order_id) == {}


async def test_cash_on_delivery_order_is_credited_when_it_completes(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    me, headers = await customer(state, w.tenant)
    await touch(
        state,
        w.tenant,
        kind="guide",
        customer_id=me,
        visitor_id=None,
        store_id=w.store.id,
        guide_staff_id=w.guide,
    )
    async with UnitOfWork(state.write_factory) as uow:
        await update_mall_settings(uow.session, w.tenant, cod_enabled=True)
        await uow.commit()
    await add(client, w.tenant.slug, headers, w.shop.skus[0].public_id, 1)
    r = await place(client, w.tenant.slug, headers, payment_method="cod")
    assert r.status_code == 201, r.text
    public_id = r.json()["id"]
    for action, body in (("ship", {"carrier": "顺丰"}), ("complete", None)):
        r = await client.post(f"/api/v1/orders/{public_id}/{action}", json=body, headers=w.owner)
        assert r.status_code == 200, r.text
    assert await deliver(state, "order.paid") == 0
    assert await deliver(state, "order.completed") == 1
    async with UnitOfWork(state.read_factory) as uow:
        from loopmall.orders.service import get_payable_by_public_id

        order_id = (await get_payable_by_public_id(uow.session, w.tenant, public_id)).id
    got = await credits(state, order_id)
    assert {r: (c.rule, c.amount_fen) for r, c in got.items()} == {
        "store": ("last_touch:guide", 9900),
        "guide": ("last_touch:guide", 9900),
    }
