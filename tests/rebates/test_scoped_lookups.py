"""Another store's ids answer exactly as unknown ids do (#11 case 13 and its class): the
commission lines of an order, and the ``store`` filters of the commission and attribution
ledgers and of the order lists (API and console). A store role learns nothing from a 200
``[]`` or from a differently worded 404."""

from __future__ import annotations

from typing import Any

import httpx

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.orders import service as orders
from tests.factories import make_staff, token_for
from tests.inventory.fixtures import make_store
from tests.rebates.fixtures import World, make_world

UNKNOWN_ORDER = "ord_0000000000000000"
UNKNOWN_STORE = "st_0000000000000000"


def _same(body: dict[str, Any]) -> dict[str, Any]:
    """A problem without the parts that name the request (``instance``, the id asked)."""
    return {k: v for k, v in body.items() if k not in ("instance", "store")}


async def _two_managers(w: World) -> tuple[int, dict[str, str], dict[str, str]]:
    """The other store's id, and bearer headers of this store's and the other's manager."""
    other = await make_store(w.state, w.tenant, code="S002")
    await make_staff(w.state, w.tenant, phone="13800000005", role="store_manager",
                     store_ids=(w.store_id,))  # fmt: skip
    await make_staff(w.state, w.tenant, phone="13800000006", role="store_manager",
                     store_ids=(other.id,))  # fmt: skip
    here = await token_for(w.client, w.tenant.slug, "13800000005")
    there = await token_for(w.client, w.tenant.slug, "13800000006")
    return other.id, here, there


async def _store_order(w: World, store_id: int) -> str:
    async with UnitOfWork(w.state.write_factory) as uow:
        made = await orders.create_face_to_face_order(
            uow.session,
            w.tenant,
            amount_fen=10_00,
            store_id=store_id,
            guide_staff_id=None,
            customer_id=None,
            note="test",
        )
        await uow.commit()
    return made.public_id


async def test_another_stores_order_answers_like_an_unknown_order(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    await w.rules(store_bp=100, guide_bp=300, level1_bp=500, distributors="everyone")
    credited = await w.order()  # an online order crediting this store and its guide
    await w.credit(credited, w.credits("store", "guide", "sharer"))
    other_id, here, there = await _two_managers(w)
    theirs = await _store_order(w, other_id)  # the other store's sale, no commission yet

    unknown = await client.get(f"/api/v1/commission/orders/{UNKNOWN_ORDER}", headers=there)
    not_theirs = await client.get(f"/api/v1/commission/orders/{credited.public_id}", headers=there)
    not_mine = await client.get(f"/api/v1/commission/orders/{theirs}", headers=here)
    mine = await client.get(f"/api/v1/commission/orders/{credited.public_id}", headers=here)
    own_empty = await client.get(f"/api/v1/commission/orders/{theirs}", headers=there)
    owner = await client.get(f"/api/v1/commission/orders/{credited.public_id}", headers=w.owner)

    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    for hidden in (not_theirs, not_mine):
        assert hidden.status_code == 404, hidden.text
        assert _same(hidden.json()) == _same(unknown.json())
    assert sorted(e["role"] for e in mine.json()) == ["guide", "store"]
    assert (own_empty.status_code, own_empty.json()) == (200, [])
    assert sorted(e["role"] for e in owner.json()) == ["guide", "sharer", "store"]


async def test_another_stores_id_in_a_ledger_filter_answers_like_an_unknown_store(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    _other_id, _here, there = await _two_managers(w)

    filtered = (
        "/api/v1/commission/entries",
        "/api/v1/attribution/ledger",
        "/api/v1/orders",
        "/console/orders",
    )
    for path in filtered:
        unknown = await client.get(path, params={"store": UNKNOWN_STORE}, headers=there)
        hidden = await client.get(path, params={"store": w.store_public_id}, headers=there)
        owner = await client.get(path, params={"store": w.store_public_id}, headers=w.owner)

        assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found"), path
        assert hidden.status_code == 404, (path, hidden.text)
        assert _same(hidden.json()) == _same(unknown.json()), path
        assert owner.status_code == 200, (path, owner.text)
