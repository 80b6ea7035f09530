"""End to end with the real attribution domain: a share chain's touch (A → B → C), C pays,
attribution credits B as sharer and A as upstream sharer, and the ledger books their
commission; C's full refund gives all of it back."""

from __future__ import annotations

import httpx

from loopmall.attribution.service import TouchKind, record_touch
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from tests.rebates.fixtures import make_world


async def test_a_share_chain_earns_both_levels_and_a_refund_takes_it_back(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    await w.rules(level1_bp=500, level2_bp=100, distributors="everyone")
    async with UnitOfWork(state.write_factory) as uow:
        await record_touch(
            uow.session,
            w.tenant,
            kind=TouchKind.SHARE,
            customer_id=w.c.customer_id,
            visitor_id=None,
            at=clock.now(),
            sharer_customer_id=w.b.customer_id,
            upstream_sharer_customer_id=w.a.customer_id,
        )
        await uow.commit()

    order = await w.order()  # 9,900 fen, paid: attribution credits it on order.paid
    await w.drain()
    body = await w.entries()
    got = {
        e["role"]: (e["earner"]["name"], e["amount_fen"], e["order"])
        for e in body["items"]
        if e["role"] in ("sharer", "upstream_sharer")
    }
    assert got == {
        "sharer": ("贝贝", 495, order.public_id),
        "upstream_sharer": ("阿强", 99, order.public_id),
    }
    assert all(e["rule"] for e in body["items"])  # each line says which rule credited it

    await w.refund(order, order.paid_fen)
    mine = await client.get("/api/v1/mall/shop/me/earnings", headers=w.b.headers)
    earnings = mine.json()["earnings"]
    assert (earnings["earned_fen"], earnings["clawed_back_fen"], earnings["net_fen"]) == (
        495,
        495,
        0,
    )
