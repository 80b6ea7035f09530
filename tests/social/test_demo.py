"""The demo's share chain, as the console shows it."""

from __future__ import annotations

import httpx

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.social.demo import demo_share_chain
from tests.factories import make_staff, token_for
from tests.storefront.seed import seed_mall


async def test_demo_chain_shows_in_the_console(state: AppState, client: httpx.AsyncClient) -> None:
    mall = await seed_mall(state)
    owner = await make_staff(state, mall.tenant)
    async with UnitOfWork(state.write_factory) as uow:
        chain = await demo_share_chain(uow.session, mall.tenant, product_public_id=mall.coat)
        await uow.commit()
    r = await client.get("/api/v1/shares", headers=await token_for(client, "vero", owner.phone))
    [root] = r.json()["items"]
    assert (root["id"], root["sharer_name"], root["visits"]) == (
        chain.shares[0].public_id,
        "林小美",
        1,
    )
    [child] = root["children"]
    assert (child["sharer_name"], child["visits"], child["depth"]) == ("周可可", 1, 1)
