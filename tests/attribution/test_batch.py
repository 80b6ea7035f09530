"""Batch crediting (the benchmark's path) gives every order exactly what the rule engine
gives it alone: random touches, bindings and orders spread over time, written through the
service, credited in one batch, compared with ``rules.attribute`` order by order."""

from __future__ import annotations

import random
from datetime import timedelta

import httpx
from sqlalchemy import select

from loopmall.attribution import service
from loopmall.attribution.ledger import credit_orders
from loopmall.attribution.models import Credit
from loopmall.attribution.rulebook import save_rules
from loopmall.attribution.rules import BindingFact, OrderFact, TouchFact, attribute
from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.orders.models import Order
from tests.attribution.world import customer, make_world, outbox

KINDS = ("scan", "share", "guide", "join")


async def test_batch_equals_the_engine_order_by_order(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    w = await make_world(state, client)
    rnd = random.Random(20261123)
    people = [(await customer(state, w.tenant, f"顾客{i}"))[0] for i in range(6)]
    stores, guides = [w.store.id, w.other_store.id], [w.guide, w.other_guide]
    end = clock.now()
    facts: dict[int, list[TouchFact]] = {p: [] for p in people}
    bindings: dict[int, BindingFact] = {}
    orders: list[OrderFact] = []
    async with UnitOfWork(state.write_factory) as uow:
        s = uow.session
        rules = await save_rules(s, w.tenant, {"window_days": 10, "precedence": "first_touch"})
        for p in people:
            for _ in range(rnd.randrange(0, 15)):
                kind = rnd.choice(KINDS)
                kw = {
                    "kind": kind,
                    "at": end - timedelta(hours=rnd.randrange(0, 40 * 24)),
                    "store_id": rnd.choice([None, *stores]),
                    "guide_staff_id": rnd.choice([None, *guides]),
                    "channel_id": rnd.choice([None, 1, 2]),
                    "placement": rnd.choice(["", "报刊亭"]),
                }
                if kind == "share":
                    kw |= {
                        "share_id": rnd.randrange(1, 5),
                        "sharer_customer_id": rnd.choice(people),
                        "upstream_sharer_customer_id": rnd.choice([None, *people]),
                    }
                t = await service.record_touch(s, w.tenant, customer_id=p, visitor_id=None, **kw)
                facts[p].append(TouchFact(id=t.id, **kw))  # type: ignore[arg-type]
            if rnd.random() < 0.5:
                b = await service.bind_customer(
                    s,
                    w.tenant,
                    p,
                    store_id=rnd.choice(stores),
                    guide_staff_id=rnd.choice([None, *guides]),
                    source="test",
                    at=end - timedelta(days=50),
                )
                assert b is not None
                bindings[p] = BindingFact(b.store_id, b.guide_staff_id, b.last_contact_at)
            for n in range(rnd.randrange(1, 4)):
                at = end - timedelta(hours=rnd.randrange(0, 30 * 24))
                kind = rnd.choice(["mall", "mall", "face_to_face"])
                order = Order(
                    merchant_id=w.tenant.id,
                    public_id=new_public_id("ord"),
                    number=f"T{p}{n}",
                    kind=kind,
                    status="paid",
                    fulfilment="delivery" if kind == "mall" else "none",
                    payment_method="online",
                    customer_id=p,
                    store_id=rnd.choice(stores) if kind == "face_to_face" else None,
                    guide_staff_id=rnd.choice([None, *guides]) if kind == "face_to_face" else None,
                    total_fen=1000 + n,
                    paid_fen=1000 + n,
                    created_at=at,
                    updated_at=at,
                )
                s.add(order)
                await s.flush()
                orders.append(
                    OrderFact(order.id, kind, at, p, order.store_id, order.guide_staff_id)
                )
        await uow.commit()

    async with UnitOfWork(state.write_factory) as uow:
        credited = await credit_orders(uow.session, w.tenant, [o.id for o in orders])
        await uow.commit()
    async with UnitOfWork(state.read_factory) as uow:
        rows = list(await uow.session.scalars(select(Credit)))
    got = {
        (c.order_id, c.role): (
            c.rule,
            c.touch_id,
            c.store_id,
            c.guide_staff_id,
            c.sharer_customer_id,
        )
        for c in rows
    }
    expected = {
        (o.id, c.role.value): (
            c.rule,
            c.touch_id,
            c.store_id,
            c.guide_staff_id,
            c.sharer_customer_id,
        )
        for o in orders
        for c in attribute(o, facts[o.customer_id or 0], bindings.get(o.customer_id or 0), rules)
    }
    assert len(expected) > 20, "the random world is big enough to mean something"
    assert got == expected
    assert credited == sorted({order_id for order_id, _ in expected})
    events = await outbox(state, "attribution.credited")
    assert sorted(e["order_id"] for e in events) == credited
    by_id = {c.id: c for c in rows}
    for e in events:
        for c in e["credits"]:
            assert by_id[c["credit_id"]].order_id == e["order_id"]
            assert by_id[c["credit_id"]].role == c["role"]
