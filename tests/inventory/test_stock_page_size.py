"""Issue #11 (chain scale): /console/stock shows PAGE_SIZE (20) SKUs a page, each with its
first locations, and links on to the next: 30 a page (210 stock-level rows at a chain's
size) cost ~23 ms of CPU a view on one worker, ~17 ms at 20 (bench chainscale, 1/10).
A merchant of 25 SKUs, then of 65, reads the same statements and rows for the first page."""

from __future__ import annotations

import html
import re

import httpx

from loopmall.core.state import AppState
from loopmall.inventory import repository
from loopmall.inventory.pages import PAGE_SIZE
from tests.factories import make_merchant, make_staff
from tests.inventory.fixtures import make_skus
from tests.inventory.test_stock_page import console_login
from tests.reads import reading

HTML = {"Accept": "text/html"}


def _skus(page: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'<tr[^>]*data-sku="([a-z0-9_]+)"', page)))


async def test_the_stock_page_shows_a_page_of_skus_and_links_on(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given a merchant with 25 SKUs, whose owner opens the stock page
    tenant = await make_merchant(state, "acme", "Acme")
    await make_staff(state, tenant)
    await make_skus(state, tenant, count=25)
    await console_login(client, "acme", "13800000001")
    with reading(state) as small:
        first = await client.get("/console/stock", headers=HTML)
    assert first.status_code == 200, first.text[:500]

    # When the merchant has 65 SKUs and the owner pages through them
    await make_skus(state, tenant, count=40, title="衬衫")
    with reading(state) as large:
        page = await client.get("/console/stock", headers=HTML)
    shown = [_skus(page.text)]
    while link := re.search(r'<a[^>]*href="(/console/stock\?[^"]*cursor=[^"]+)"', page.text):
        page = await client.get(html.unescape(link[1]), headers=HTML)
        assert page.status_code == 200, page.text[:500]
        shown.append(_skus(page.text))

    # Then each page shows PAGE_SIZE SKUs (the last the rest), every SKU once, and the
    # first page reads the same statements and rows as with 25 SKUs
    assert PAGE_SIZE == 20
    assert [len(s) for s in shown] == [20, 20, 20, 5]
    assert len({sku for s in shown for sku in s}) == 65
    assert len(large.statements) == len(small.statements)
    assert large.rows == small.rows


async def test_the_per_sku_lookups_are_built_once_per_page_size(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given a merchant with 25 SKUs and the stock page opened once
    tenant = await make_merchant(state, "acme", "Acme")
    await make_staff(state, tenant)
    await make_skus(state, tenant, count=25)
    await console_login(client, "acme", "13800000001")
    assert (await client.get("/console/stock", headers=HTML)).status_code == 200
    built = repository._first_level_ids.cache_info().misses

    # When the owner opens it again, and the next page
    again = await client.get("/console/stock", headers=HTML)
    link = re.search(r'<a[^>]*href="(/console/stock\?[^"]*cursor=[^"]+)"', again.text)
    assert link is not None
    rest = await client.get(html.unescape(link[1]), headers=HTML)

    # Then the first page's lookups (20 SKUs) were not built again (building them cost
    # ~5 ms of CPU a view); the second page's 5 are built once
    assert again.status_code == rest.status_code == 200
    assert repository._first_level_ids.cache_info().misses - built <= 1
    assert len(_skus(rest.text)) == 5
