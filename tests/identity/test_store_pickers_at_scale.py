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
from sqlalchemy import event

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.inventory.locations import PICKER_LIMIT
from tests.chain_rows import insert_chain
from tests.merchants.conftest import console_login, create_store

HTML = {"Accept": "text/html"}


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
    """The store public ids a page offers as options."""
    return re.findall(r'<option value="(st_[0-9a-z_]+)"', html)


async def _open(state: AppState, client: httpx.AsyncClient, url: str) -> tuple[int, list[str]]:
    with counting(state) as statements:
        r = await client.get(url, headers=HTML)
    assert r.status_code == 200, r.text[:500]
    return len(statements), store_options(r.text)


PAGES = ["/console/staff", "/console/staff/new", "/console/orders", "/console/stock"]


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
    await console_login(client, "acme", "13800000001")
    small_statements, small_options = await _open(state, client, url)
    assert len(small_options) == 1

    await insert_chain(state, backend, tenant, stores=2_000, guides=0)
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
    await insert_chain(state, backend, tenant, stores=2_000, guides=0)
    await console_login(client, "acme", "13800000001")

    r = await client.get("/console/staff?store=st_scale1999", headers=HTML)
    options = store_options(r.text)
    assert options[0] == "st_scale1999" and len(options) == PICKER_LIMIT + 1
    assert re.search(
        r'<option value="st_scale1999" data-store selected>门店1999 \(S1999\)<', r.text
    )

    r = await client.get("/console/staff/new?store_q=S1234", headers=HTML)
    assert store_options(r.text) == ["st_scale1234"]
    r = await client.get("/console/orders?store_q=门店777", headers=HTML)
    assert store_options(r.text) == ["st_scale777"]
    # The search box sits in the page's filter form (a GET), so it works without JavaScript.
    assert 'name="store_q"' in r.text
