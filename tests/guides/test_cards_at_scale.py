"""Issue #11 (chain scale): a guide's product cards read the guide's store's stock only.
``search_cards`` read every store's level of each SKU shown (1.6 s at p95 for a chain of
1,800 stores) to show one figure."""

from __future__ import annotations

import httpx
from sqlalchemy import bindparam, text

from loopmall.core import clock
from loopmall.core.db import UtcDateTime
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from tests.chain_rows import numbers
from tests.guides.fixtures import MORNING, make_world
from tests.reads import reading


async def stock_everywhere(
    state: AppState, backend: str, tenant_id: int, stores: int, *, first: int = 1
) -> None:
    """``stores`` more stores (codes X<first>…), a location each, 5 units of every SKU at
    each of them."""
    true = "true" if backend == "postgres" else "1"
    async with UnitOfWork(state.write_factory) as uow:
        now = clock.now()
        await uow.session.execute(
            text(
                "INSERT INTO stores (merchant_id, public_id, code, name, city, district, address, "
                "phone, opening_hours, pickup_enabled, status, note, created_at, updated_at) "
                "SELECT :m, 'st_scale' || (x + :f), 'X' || (x + :f), '门店' || (x + :f), '', '', "
                f"'', '', '{{}}', {true}, 'open', '', :now, :now " + numbers(backend, ":n")
            ).bindparams(
                bindparam("now", now, type_=UtcDateTime), m=tenant_id, n=stores, f=first - 1
            )
        )
        await uow.session.execute(
            text(
                "INSERT INTO stock_locations (merchant_id, public_id, kind, store_id, is_default, "
                "code, name, created_at) SELECT s.merchant_id, 'loc_' || s.public_id, 'store', "
                "s.id, :no, s.code, s.name, :now FROM stores s WHERE s.merchant_id = :m "
                "AND s.public_id LIKE 'st_scale%' AND NOT EXISTS (SELECT 1 FROM stock_locations "
                "o WHERE o.store_id = s.id)"
            ),
            {"m": tenant_id, "now": now, "no": False},
        )
        await uow.session.execute(
            text(
                "INSERT INTO stock_levels (merchant_id, sku_id, location_id, on_hand, held, "
                "updated_at) SELECT :m, k.id, l.id, 5, 0, :now FROM skus k, stock_locations l "
                "WHERE k.merchant_id = :m AND l.merchant_id = :m "
                "AND l.public_id LIKE 'loc_st_scale%' AND NOT EXISTS (SELECT 1 FROM stock_levels "
                "o WHERE o.location_id = l.id)"
            ),
            {"m": tenant_id, "now": now},
        )
        await uow.commit()


async def test_cards_read_the_same_rows_however_many_stores_hold_the_skus(
    state: AppState, client: httpx.AsyncClient, backend: str, frozen_clock: clock.FrozenClock
) -> None:
    frozen_clock.set(MORNING)
    world = await make_world(state, client)
    url = "/api/v1/guides/cards?q=大衣"
    with reading(state) as before:
        small = await client.get(url, headers=world.guide_headers)
    assert small.status_code == 200, small.text

    await stock_everywhere(state, backend, world.tenant.id, 2_000)
    with reading(state) as after:
        large = await client.get(url, headers=world.guide_headers)

    assert large.json() == small.json()
    camel_l = next(c for c in large.json() if c["sku"] == world.skus["驼/L"])
    assert camel_l["in_store"] == 2
    assert len(after.statements) == len(before.statements)
    assert after.rows == before.rows
