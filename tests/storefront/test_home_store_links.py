"""The home's store-locator block leads on: an "all stores" link beside its title to the
mall's store list, and each store's name to that store's page."""

from __future__ import annotations

import re

import httpx

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.stores import create_store, update_store
from tests.storefront.seed import seed_mall

HTML = {"Accept": "text/html"}


async def test_the_store_block_links_to_the_store_list_and_each_open_store(
    client: httpx.AsyncClient, state: AppState
) -> None:
    # Given VERO's mall (西单店) with one more open store and one closed
    mall = await seed_mall(state)
    async with UnitOfWork(state.write_factory) as uow:
        open_one = await create_store(uow.session, mall.tenant, code="S2", name="国贸店")
        closed = await create_store(uow.session, mall.tenant, code="S3", name="已关店")
        await update_store(uow.session, mall.tenant, closed.public_id, {"status": "closed"})
        await uow.commit()
        opened, shut = open_one.public_id, closed.public_id

    # When a visitor opens the home
    html = (await client.get("/m/vero/", headers=HTML)).text
    block = html[html.index('data-block="store_locator"') :]

    # Then the block's title has the "all stores" link, and each open store links to its page
    assert '<a class="more" href="/m/vero/stores" id="all-stores">全部门店 ›</a>' in block
    links = dict(re.findall(r'<a href="/m/vero/stores/(st_\w+)">([^<]+)</a>', block))
    assert set(links.values()) == {"西单店", "国贸店"}
    assert links[opened] == "国贸店"
    assert shut not in block

    # And each link opens that store's page
    for public_id, name in links.items():
        page = await client.get(f"/m/vero/stores/{public_id}", headers=HTML)
        assert page.status_code == 200
        assert name in page.text
