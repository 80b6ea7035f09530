"""Issue #11 (chain scale): the console pages with a store picker offer the chosen stores and
the first few others, never every store of the chain. With 2,000 more stores each page sends
the same statements and lists at most ``PICKER_LIMIT`` stores (it listed all of them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import bindparam, event, text

from loopmall.core import clock
from loopmall.core.db import UtcDateTime
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.store_picker import PICKER_LIMIT
from tests.catalog.conftest import create_product
from tests.chain_rows import numbers
from tests.merchants.conftest import console_login, create_store, page_csrf

HTML = {"Accept": "text/html"}


def sid(i: int) -> str:
    """The public id ``more_stores`` gives store ``i``."""
    return f"st_{i:016d}"


async def more_stores(state: AppState, backend: str, tenant: Tenant, n: int) -> None:
    """``n`` stores (public id ``sid(i)``, code ``S<i>``, name ``门店<i>``) in one INSERT."""
    padded = "lpad(x::text, 16, '0')" if backend == "postgres" else "printf('%016d', x)"
    true = "true" if backend == "postgres" else "1"
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(
            text(
                "INSERT INTO stores (merchant_id, public_id, code, name, city, district, address, "
                "phone, opening_hours, pickup_enabled, status, note, created_at, updated_at) "
                f"SELECT :m, 'st_' || {padded}, 'S' || x, '门店' || x, '', '', '', "
                f"'', '{{}}', {true}, 'open', '', :now, :now " + numbers(backend, ":n")
            ).bindparams(bindparam("now", clock.now(), type_=UtcDateTime), m=tenant.id, n=n)
        )
        await uow.commit()


@contextmanager
def counting(state: AppState) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    for engine in state.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        for engine in state.engines:
            event.remove(engine.sync_engine, "before_cursor_execute", before)


def store_options(html: str) -> list[str]:
    """The store public ids a page offers as options (the price board's as ``store:<id>``),
    once each (the stock page has two selects of locations)."""
    return list(dict.fromkeys(re.findall(r'<option value="(?:store:)?(st_[0-9a-z]+)"', html)))


async def _open(state: AppState, client: httpx.AsyncClient, url: str) -> tuple[int, list[str]]:
    with counting(state) as statements:
        r = await client.get(url, headers=HTML)
    assert r.status_code == 200, r.text[:500]
    return len(statements), store_options(r.text)


PAGES = [
    "/console/staff",
    "/console/staff/new",
    "/console/orders",
    "/console/stock",
    "/console/products/{product}",
]


@pytest.mark.parametrize("url", PAGES)
async def test_a_store_picker_page_stays_the_same_size_as_the_chain_grows(
    state: AppState,
    client: httpx.AsyncClient,
    backend: str,
    owner: tuple[Tenant, dict[str, str]],
    url: str,
) -> None:
    tenant, headers = owner
    await create_store(client, headers, "A1", name="一号店")
    url = url.format(product=(await create_product(client, headers))["id"])
    await console_login(client, "acme", "13800000001")
    small_statements, small_options = await _open(state, client, url)
    assert len(small_options) == 1

    await more_stores(state, backend, tenant, 2_000)
    statements, options = await _open(state, client, url)

    assert statements == small_statements
    assert len(options) == PICKER_LIMIT


async def test_the_picker_keeps_the_chosen_store_and_finds_others_by_code(
    state: AppState,
    client: httpx.AsyncClient,
    backend: str,
    owner: tuple[Tenant, dict[str, str]],
) -> None:
    tenant, _headers = owner
    await more_stores(state, backend, tenant, 2_000)
    await console_login(client, "acme", "13800000001")

    r = await client.get(f"/console/staff?store={sid(1999)}", headers=HTML)
    options = store_options(r.text)
    assert options[0] == sid(1999) and len(options) == PICKER_LIMIT + 1
    assert re.search(
        rf'<option value="{sid(1999)}" data-store selected>门店1999 \(S1999\)<', r.text
    )

    r = await client.get("/console/staff/new?store_q=S1234", headers=HTML)
    assert store_options(r.text) == [sid(1234)]
    r = await client.get("/console/orders?store_q=门店777", headers=HTML)
    assert store_options(r.text) == [sid(777)]
    # The search box sits in the page's filter form (a GET), so it works without JavaScript.
    assert 'name="store_q"' in r.text


async def test_the_price_board_keeps_a_priced_store_beyond_the_first_few(
    state: AppState,
    client: httpx.AsyncClient,
    backend: str,
    owner: tuple[Tenant, dict[str, str]],
) -> None:
    tenant, headers = owner
    await more_stores(state, backend, tenant, 2_000)
    product = await create_product(client, headers)
    sku = product["skus"][0]["id"]
    body = {"channel": "store", "store": sid(1999), "price": 8800}
    r = await client.put(f"/api/v1/skus/{sku}/prices", json=body, headers=headers)
    assert r.status_code == 200, r.text
    await console_login(client, "acme", "13800000001")

    page = await client.get(f"/console/products/{product['id']}", headers=HTML)
    # The priced store is a column of the overview and a choice, beside the first 30.
    assert "门店1999</th>" in page.text
    assert store_options(page.text)[0] == sid(1999)
    assert len(store_options(page.text)) == PICKER_LIMIT + 1

    chosen = await client.get(
        f"/console/products/{product['id']}?channel=store:{sid(1500)}", headers=HTML
    )
    assert f'value="store:{sid(1500)}" data-store selected' in chosen.text
    assert f'<input type="hidden" name="channel" value="store:{sid(1500)}">' in chosen.text
    # Saving the chosen store's prices still finds it (the board names it, not every store).
    csrf = await page_csrf(client)
    saved = await client.post(
        f"/console/products/{product['id']}/prices",
        data={"csrf_token": csrf, "channel": f"store:{sid(1500)}", f"price-{sku}": "77"},
        headers=HTML,
    )
    assert saved.status_code == 303, saved.text[:500]
    r = await client.get(f"/api/v1/products/{product['id']}", headers=headers)
    store_prices = [
        (p["store"], p["price"]) for p in r.json()["skus"][0]["prices"] if p["channel"] == "store"
    ]
    assert sorted(store_prices) == sorted([(sid(1999), 8800), (sid(1500), 7700)])
