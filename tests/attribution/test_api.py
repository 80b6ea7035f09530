"""The attribution API: rules, the ledger with filters and cursor, a customer's binding and
touches, moving a binding; bad input refused with nothing written; store scoping."""

from __future__ import annotations

from datetime import timedelta

import httpx

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Customer
from tests.attribution.world import World, bind, buy, customer, deliver, make_world, touch
from tests.factories import make_staff, owner_headers, token_for


async def _public(state: AppState, customer_id: int) -> str:
    async with UnitOfWork(state.read_factory) as uow:
        row = await uow.session.get(Customer, customer_id)
        assert row is not None
        return row.public_id


async def test_rules_defaults_update_and_refusals(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    r = await client.get("/api/v1/attribution/rules", headers=w.owner)
    assert r.status_code == 200
    assert r.json() == {
        "window_days": 15,
        "precedence": "last_touch",
        "bind_on_first_touch": True,
        "takeover_after_days": 30,
        "bound_store_keeps_online": True,
    }
    r = await client.put(
        "/api/v1/attribution/rules",
        json={"window_days": 7, "precedence": "binding"},
        headers=w.owner,
    )
    assert r.status_code == 200
    assert (r.json()["window_days"], r.json()["precedence"]) == (7, "binding")
    for bad in (
        {"window_days": 0},
        {"window_days": 366},
        {"precedence": "random"},
        {"takeover_after_days": -1},
        {"window_days": 3, "colour": "red"},
        {"bind_on_first_touch": "maybe"},
    ):
        r = await client.put("/api/v1/attribution/rules", json=bad, headers=w.owner)
        assert r.status_code == 422, bad
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get("/api/v1/attribution/rules", headers=w.owner)
    assert (r.json()["window_days"], r.json()["precedence"]) == (7, "binding")


async def test_roles_without_attribution_rights_are_refused(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    guide = await token_for(client, w.tenant.slug, "13800000002")
    assert (await client.get("/api/v1/attribution/ledger", headers=guide)).status_code == 403
    r = await client.put("/api/v1/attribution/rules", json={"window_days": 3}, headers=guide)
    assert r.status_code == 403
    assert (await client.get("/api/v1/attribution/rules")).status_code == 401


async def _orders(state: AppState, client: httpx.AsyncClient, w: World) -> tuple[int, int]:
    """Three paid orders: two of A via the store's guide scan, one of B via the other store."""
    a, a_headers = await customer(state, w.tenant, "甲")
    b, b_headers = await customer(state, w.tenant, "乙")
    await touch(
        state,
        w.tenant,
        kind="scan",
        customer_id=a,
        visitor_id=None,
        store_id=w.store.id,
        guide_staff_id=w.guide,
        at=clock.now() - timedelta(days=1),
    )
    await touch(
        state,
        w.tenant,
        kind="scan",
        customer_id=b,
        visitor_id=None,
        store_id=w.other_store.id,
        placement="地铁站海报",
        at=clock.now() - timedelta(days=1),
    )
    await buy(state, client, w, a_headers)
    await buy(state, client, w, a_headers)
    await buy(state, client, w, b_headers)
    assert await deliver(state, "order.paid") == 3
    return a, b


async def test_ledger_filters_totals_and_cursor(state: AppState, client: httpx.AsyncClient) -> None:
    w = await make_world(state, client)
    await _orders(state, client, w)
    r = await client.get("/api/v1/attribution/ledger", headers=w.owner)
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted((c["customer"]["name"], c["role"]) for c in body["items"]) == [
        ("乙", "placement"),
        ("乙", "store"),
        ("甲", "guide"),
        ("甲", "guide"),
        ("甲", "store"),
        ("甲", "store"),
    ]
    assert {t["role"]: (t["credits"], t["orders"], t["amount_fen"]) for t in body["totals"]} == {
        "guide": (2, 2, 2 * 19800),
        "placement": (1, 1, 19800),
        "store": (3, 3, 3 * 19800),
    }
    ids = [c["id"] for c in body["items"]]
    orders = [c["order"]["id"] for c in body["items"]]
    assert orders[0] == orders[1] and orders[-1] == orders[-2]  # newest first, by order
    placement = next(c for c in body["items"] if c["role"] == "placement")
    assert (placement["placement"], placement["rule"]) == ("地铁站海报", "last_touch:scan")
    assert placement["store"]["id"] == w.other_store.public_id

    r = await client.get(
        "/api/v1/attribution/ledger",
        params={"store": w.store.public_id, "role": "store"},
        headers=w.owner,
    )
    assert [c["store"]["name"] for c in r.json()["items"]] == ["门店 S001"] * 2
    r = await client.get(
        "/api/v1/attribution/ledger", params={"guide": w.guide_public}, headers=w.owner
    )
    assert {c["role"] for c in r.json()["items"]} == {"guide"}
    r = await client.get("/api/v1/attribution/ledger", params={"rule": "binding"}, headers=w.owner)
    assert r.json()["items"] == [] and r.json()["totals"] == []
    today = clock.local(clock.now()).date()
    r = await client.get(
        "/api/v1/attribution/ledger",
        params={"from": str(today + timedelta(days=1))},
        headers=w.owner,
    )
    assert r.json()["items"] == []
    r = await client.get(
        "/api/v1/attribution/ledger", params={"from": str(today), "to": str(today)}, headers=w.owner
    )
    assert len(r.json()["items"]) == 6

    seen: list[str] = []
    cursor = None
    for _ in range(4):
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (
            await client.get("/api/v1/attribution/ledger", params=params, headers=w.owner)
        ).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids

    for bad in (
        {"role": "boss"},
        {"cursor": "!!"},
        {"limit": 0},
        {"from": "2026-02-01", "to": "2026-01-01"},
    ):
        r = await client.get("/api/v1/attribution/ledger", params=bad, headers=w.owner)
        assert r.status_code == 422, bad
    for unknown in ({"store": "st_nope"}, {"guide": "stf_nope"}):
        r = await client.get("/api/v1/attribution/ledger", params=unknown, headers=w.owner)
        assert r.status_code == 404, unknown


async def test_store_manager_sees_only_their_store(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    _a, b = await _orders(state, client, w)
    await bind(state, w.tenant, b, store_id=w.other_store.id, guide_staff_id=None, source="scan")
    await make_staff(
        state, w.tenant, phone="13800000009", role="store_manager", store_ids=(w.store.id,)
    )
    manager = await token_for(client, w.tenant.slug, "13800000009")
    r = await client.get("/api/v1/attribution/ledger", headers=manager)
    assert r.status_code == 200
    assert {c["store"]["id"] for c in r.json()["items"]} == {w.store.public_id}
    r = await client.get(
        "/api/v1/attribution/ledger", params={"store": w.other_store.public_id}, headers=manager
    )
    assert r.status_code == 404
    r = await client.get(
        f"/api/v1/attribution/customers/{await _public(state, b)}", headers=manager
    )
    assert r.status_code == 404


async def test_customer_binding_read_and_moved_by_staff(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    me, _ = await customer(state, w.tenant)
    public = await _public(state, me)
    await touch(
        state,
        w.tenant,
        kind="scan",
        customer_id=me,
        visitor_id=None,
        store_id=w.store.id,
        guide_staff_id=w.guide,
    )
    await bind(state, w.tenant, me, store_id=w.store.id, guide_staff_id=w.guide, source="scan")
    r = await client.get(f"/api/v1/attribution/customers/{public}", headers=w.owner)
    assert r.status_code == 200
    body = r.json()
    assert body["customer"]["id"] == public
    assert body["binding"]["guide"]["id"] == w.guide_public
    assert [(t["kind"], t["store"]["id"]) for t in body["touches"]] == [("scan", w.store.public_id)]

    async with UnitOfWork(state.read_factory) as uow:
        from loopmall.staff.models import Staff

        other_public = (await uow.session.get(Staff, w.other_guide)).public_id  # type: ignore[union-attr]
        cashier_public = (await uow.session.get(Staff, w.cashier)).public_id  # type: ignore[union-attr]
    url = f"/api/v1/attribution/customers/{public}/binding"
    r = await client.put(url, json={"guide": cashier_public}, headers=w.owner)
    assert (r.status_code, r.json()["code"]) == (422, "not_a_guide")
    assert (await client.put(url, json={}, headers=w.owner)).status_code == 422
    assert (await client.put(url, json={"store": "st_nope"}, headers=w.owner)).status_code == 404
    r = await client.get(f"/api/v1/attribution/customers/{public}", headers=w.owner)
    assert r.json()["binding"]["guide"]["id"] == w.guide_public  # nothing moved

    r = await client.put(url, json={"guide": other_public}, headers=w.owner)
    assert r.status_code == 200, r.text
    binding = r.json()["binding"]
    assert (binding["store"]["id"], binding["guide"]["id"]) == (
        w.other_store.public_id,
        other_public,
    )
    assert binding["source"].startswith("staff:")
    assert [(m["from_guide"]["id"], m["to_guide"]["id"]) for m in binding["history"]] == [
        (w.guide_public, other_public)
    ]


async def test_another_merchants_customer_is_not_found(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    me, _ = await customer(state, w.tenant)
    public = await _public(state, me)
    _, other = await owner_headers(state, client, "other")
    r = await client.get(f"/api/v1/attribution/customers/{public}", headers=other)
    assert r.status_code == 404
    r = await client.put(
        f"/api/v1/attribution/customers/{public}/binding",
        json={"store": w.store.public_id},
        headers=other,
    )
    assert r.status_code == 404
    r = await client.get(
        "/api/v1/attribution/ledger", params={"store": w.store.public_id}, headers=other
    )
    assert r.status_code == 404
