"""The commission ledger through the API: rules, earnings from attribution's credits (each
role and rule), caps, distributor approval, claw-backs on partial and full refunds, and
idempotent replays — on both backends."""

from __future__ import annotations

import httpx

from loopmall.core.outbox import publish
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import get_customer
from loopmall.orders.events import OrderRefunded
from tests.factories import make_merchant, make_staff, token_for
from tests.inventory.fixtures import make_store
from tests.orders.fixtures import events, login_shopper
from tests.rebates.fixtures import make_world

ALL = ("store", "guide", "sharer", "upstream_sharer", "placement")


def _by_role(body: dict) -> dict[str, int]:
    found: dict[str, int] = {}
    for e in body["items"]:
        found[e["role"]] = found.get(e["role"], 0) + e["amount_fen"]
    return found


async def test_rules_over_100_percent_are_refused_and_nothing_is_saved(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    ok = await w.rules(store_bp=200, guide_bp=300, level1_bp=500, level2_bp=100)
    assert ok.status_code == 200, ok.text
    assert ok.json()["total_bp"] == 1100

    over = await w.rules(store_bp=5000, guide_bp=3000, level1_bp=2000, level2_bp=1)
    assert over.status_code == 422
    assert over.headers["content-type"].startswith("application/problem+json")
    assert (over.json()["code"], over.json()["total_bp"]) == ("commission_rules_over_100", 10001)
    negative = await w.rules(store_bp=-1)
    assert negative.status_code == 422
    exactly = await w.rules(store_bp=5000, guide_bp=5000)
    assert exactly.status_code == 200

    got = await client.get("/api/v1/commission/rules", headers=w.owner)
    assert (got.json()["store_bp"], got.json()["guide_bp"], got.json()["level1_bp"]) == (
        5000,
        5000,
        0,
    )
    guide = await token_for(client, "shop", w.guide_phone)
    assert (await client.get("/api/v1/commission/rules", headers=guide)).status_code == 403
    put = await client.put("/api/v1/commission/rules", json={"store_bp": 1}, headers=guide)
    assert put.status_code == 403


async def test_each_role_earns_its_rate_and_a_replay_books_nothing(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    await w.rules(store_bp=200, guide_bp=300, level1_bp=500, level2_bp=100, distributors="everyone")
    order = await w.order()  # 9,900 fen
    credits = w.credits(*ALL)
    await w.credit(order, credits)
    await w.credit(order, credits)  # attribution's event delivered twice

    body = await w.entries()
    # 9,900 × 2 % = 198; × 3 % = 297; × 5 % = 495; × 1 % = 99; a placement earns nobody.
    assert _by_role(body) == {"store": 198, "guide": 297, "sharer": 495, "upstream_sharer": 99}
    assert body["totals"] == {
        "earned_fen": 1089,
        "clawed_back_fen": 0,
        "net_fen": 1089,
        "entries": 4,
    }
    earners = {e["role"]: (e["earner"]["kind"], e["earner"]["name"]) for e in body["items"]}
    assert earners["guide"] == ("staff", "小美")
    assert earners["sharer"] == ("customer", "贝贝")
    assert earners["upstream_sharer"] == ("customer", "阿强")
    rules = {e["role"]: e["rule"] for e in body["items"]}
    assert rules == {
        "store": "binding",
        "guide": "binding",
        "sharer": "last_touch:share",
        "upstream_sharer": "last_touch:share",
    }
    assert all(e["order"] == order.public_id for e in body["items"])

    only_guide = await w.entries(role="guide")
    assert [e["amount_fen"] for e in only_guide["items"]] == [297]
    by_earner = await w.entries(earner=w.guide_public_id)
    assert [e["role"] for e in by_earner["items"]] == ["guide"]
    by_store = await w.entries(store=w.store_public_id)
    assert sorted(e["role"] for e in by_store["items"]) == ["guide", "store"]

    page1 = await w.entries(limit=3)
    page2 = await w.entries(limit=3, cursor=page1["next_cursor"])
    assert len(page1["items"]) == 3 and len(page2["items"]) == 1 and page2["next_cursor"] is None


async def test_rate_zero_distributor_cap_and_own_purchase(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    await w.rules(level1_bp=1000, level2_bp=0, distributor_cap_fen=500, distributors="everyone")
    order = await w.order(quantity=2)  # 19,800 fen: 10 % is 1,980, capped at 500
    await w.credit(order, w.credits("store", "guide", "sharer", "upstream_sharer"))
    assert _by_role(await w.entries()) == {"sharer": 500}

    # The buyer shared the link themselves: a distributor earns nothing on their own order.
    own = await w.order()
    credit = w.credits("sharer")
    credit[0]["sharer_customer_id"] = w.c.customer_id
    await w.credit(own, credit)
    assert (await w.entries())["totals"]["entries"] == 1


async def test_only_approved_distributors_earn_when_the_merchant_approves(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    await w.rules(level1_bp=500, level2_bp=100)  # policy: approved (the default)
    first = await w.order()
    await w.credit(first, w.credits("sharer", "upstream_sharer"))
    assert (await w.entries())["items"] == []

    applied = await client.post("/api/v1/mall/shop/me/distributor", headers=w.b.headers)
    assert applied.status_code == 201, applied.text
    assert (applied.json()["status"], applied.json()["may_earn"]) == ("pending", False)
    listed = await client.get("/api/v1/commission/distributors", headers=w.owner)
    assert [(d["name"], d["status"]) for d in listed.json()] == [("贝贝", "pending")]
    customer = listed.json()[0]["customer"]
    approved = await client.post(
        f"/api/v1/commission/distributors/{customer}/approve", headers=w.owner
    )
    assert approved.json()["status"] == "approved", approved.text
    again = await client.post(
        f"/api/v1/commission/distributors/{customer}/approve", headers=w.owner
    )
    assert (again.status_code, again.json()["code"]) == (409, "illegal_distributor_transition")

    second = await w.order()
    await w.credit(second, w.credits("sharer", "upstream_sharer"))
    assert _by_role(await w.entries()) == {"sharer": 495}  # A was never approved

    revoked = await client.post(
        f"/api/v1/commission/distributors/{customer}/revoke", headers=w.owner
    )
    assert revoked.json()["status"] == "revoked"
    third = await w.order()
    await w.credit(third, w.credits("sharer"))
    assert _by_role(await w.entries()) == {"sharer": 495}

    mine = await client.get("/api/v1/mall/shop/me/earnings", headers=w.b.headers)
    assert mine.status_code == 200
    assert (mine.json()["status"], mine.json()["earnings"]["net_fen"]) == ("revoked", 495)


async def test_partial_refunds_claw_back_in_proportion_and_a_full_refund_all(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    await w.rules(store_bp=333, guide_bp=300, level1_bp=500, distributors="everyone")
    order = await w.order(quantity=3)  # 29,700 fen
    await w.credit(order, w.credits("store", "guide", "sharer"))
    # store 29,700 × 3.33 % = 989.01 → 989; guide 891; sharer 1,485
    assert _by_role(await w.entries()) == {"store": 989, "guide": 891, "sharer": 1485}

    await w.refund(order, 9_900)  # a third: 989/3 = 329.67 → 330; 297; 495
    after_one = await w.entries(kind="clawback")
    assert _by_role(after_one) == {"store": -330, "guide": -297, "sharer": -495}

    await w.refund(order, 100)  # 10,000 of 29,700 in total: 333.0 → 333 (3 more); 300; 500
    assert _by_role(await w.entries(kind="clawback")) == {
        "store": -333,
        "guide": -300,
        "sharer": -500,
    }

    await w.refund(order, 19_700)  # everything: all of it comes back
    body = await w.entries()
    assert _by_role(body) == {"store": 0, "guide": 0, "sharer": 0}
    assert body["totals"]["net_fen"] == 0
    assert body["totals"]["clawed_back_fen"] == body["totals"]["earned_fen"] == 989 + 891 + 1485

    # The refund events delivered again, in any order (outbox replays), book nothing.
    for event in reversed(await events(state, "order.refunded")):
        async with UnitOfWork(state.write_factory) as uow:
            await publish(uow.session, OrderRefunded.model_validate(event.payload))
            await uow.commit()
    await w.drain()
    assert (await w.entries())["totals"]["entries"] == 3 + 9


async def test_a_refund_before_the_credit_arrives_is_clawed_back_at_once(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    await w.rules(guide_bp=1000)
    order = await w.order()  # 9,900
    await w.refund(order, 4_950)
    await w.credit(order, w.credits("guide"))
    body = await w.entries()
    assert [(e["kind"], e["amount_fen"]) for e in body["items"]] == [
        ("earning", 990),
        ("clawback", -495),
    ]


async def test_a_guide_sees_only_their_own_earnings(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    await w.rules(store_bp=100, guide_bp=300)
    order = await w.order()
    await w.credit(order, w.credits("store", "guide"))
    guide = await token_for(client, "shop", w.guide_phone)

    mine = await client.get("/api/v1/commission/me", headers=guide)
    assert mine.status_code == 200, mine.text
    assert mine.json()["earner"] == {"kind": "staff", "id": w.guide_public_id, "name": "小美"}
    assert (mine.json()["net_fen"], mine.json()["pending_fen"], mine.json()["orders"]) == (
        297,
        297,
        1,
    )
    assert (await client.get("/api/v1/commission/entries", headers=guide)).status_code == 403
    assert (await client.get("/api/v1/commission/me")).status_code == 401


async def test_other_merchants_ids_are_not_found(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    other = await make_merchant(state, "other", "Other")
    await make_staff(state, other, phone="13700000001")
    stranger = await login_shopper(state, other, "外人")
    other_owner = await token_for(client, "other", "13700000001")

    assert (await w.entries(earner=w.guide_public_id))["items"] == []
    for params in (
        {"earner": w.guide_public_id},
        {"store": w.store_public_id},
        {"settlement": "cs_nosuch"},
        {"earner": "xyz_123"},
    ):
        r = await client.get("/api/v1/commission/entries", params=params, headers=other_owner)
        assert r.status_code == 404, params
    r = await client.get("/api/v1/commission/entries", params={"role": "boss"}, headers=w.owner)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    order = await w.order()
    r = await client.get(f"/api/v1/commission/orders/{order.public_id}", headers=other_owner)
    assert r.status_code == 404
    async with UnitOfWork(state.read_factory) as uow:
        theirs = await get_customer(uow.session, other, stranger.customer_id)
    approve = await client.post(
        f"/api/v1/commission/distributors/{theirs.public_id}/approve", headers=w.owner
    )
    assert approve.status_code == 404
    listed = await client.get("/api/v1/commission/distributors", headers=other_owner)
    assert listed.json() == []


async def test_a_store_manager_sees_their_stores_lines_only(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    await w.rules(store_bp=100, guide_bp=300, level1_bp=500, distributors="everyone")
    order = await w.order()
    await w.credit(order, w.credits("store", "guide", "sharer"))
    other_store = await make_store(state, w.tenant, code="S002")
    await make_staff(
        state, w.tenant, phone="13800000005", role="store_manager", store_ids=(w.store_id,)
    )
    await make_staff(
        state, w.tenant, phone="13800000006", role="store_manager", store_ids=(other_store.id,)
    )
    here = await token_for(client, "shop", "13800000005")
    there = await token_for(client, "shop", "13800000006")

    mine = await client.get("/api/v1/commission/entries", headers=here)
    assert sorted(e["role"] for e in mine.json()["items"]) == ["guide", "store"]
    assert mine.json()["totals"]["net_fen"] == 99 + 297
    theirs = await client.get("/api/v1/commission/entries", headers=there)
    assert theirs.json()["items"] == [] and theirs.json()["totals"]["entries"] == 0
    not_theirs = await client.get(
        "/api/v1/commission/entries", params={"store": w.store_public_id}, headers=there
    )
    assert not_theirs.status_code == 404
    by_order = await client.get(f"/api/v1/commission/orders/{order.public_id}", headers=there)
    assert (by_order.status_code, by_order.json()["code"]) == (404, "not_found")
    put = await client.put("/api/v1/commission/rules", json={"store_bp": 1}, headers=here)
    assert put.status_code == 403
