"""Issue #11 (chain scale): /console/stock shows each SKU's first few locations and reads
only those, where it read every level of the SKUs shown (a SKU is stocked at every store
of a chain) to show the first 200. With 40 stores stocking every SKU, then 2,040, the page
sends the same statements and reads the same rows."""

from __future__ import annotations

import re

import httpx

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.inventory.pages import LEVELS_PER_SKU
from tests.guides.fixtures import MORNING, make_world
from tests.guides.test_cards_at_scale import stock_everywhere
from tests.merchants.conftest import console_login
from tests.reads import reading

HTML = {"Accept": "text/html"}


async def test_the_stock_page_reads_the_same_rows_however_many_stores_stock_the_skus(
    state: AppState, client: httpx.AsyncClient, backend: str, frozen_clock: clock.FrozenClock
) -> None:
    frozen_clock.set(MORNING)
    world = await make_world(state, client)
    await stock_everywhere(state, backend, world.tenant.id, 40)
    await console_login(client, world.tenant.slug, "13800000001")
    with reading(state) as before:
        small = await client.get("/console/stock", headers=HTML)
    assert small.status_code == 200, small.text[:500]

    await stock_everywhere(state, backend, world.tenant.id, 2_000, first=41)
    with reading(state) as after:
        large = await client.get("/console/stock", headers=HTML)

    assert large.status_code == 200
    assert len(after.statements) == len(before.statements)
    assert after.rows == before.rows
    # Each SKU shows its first locations and the page says there are more.
    assert "只显示了前面的若干行" in large.text
    per_sku = re.findall(r'rowspan="(\d+)"', large.text)
    assert per_sku and max(int(n) for n in per_sku) == LEVELS_PER_SKU
