"""GET /guides/conversations/{id}/holds: the holds the guide's page lists, asked again to
drop those that ended elsewhere (issue #14 item 11)."""

from __future__ import annotations

import httpx

from loopmall.core import clock
from loopmall.core.state import AppState
from tests.guides.fixtures import MORNING, make_world, start_chat


async def test_the_conversations_active_holds_and_no_one_elses(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    frozen_clock.set(MORNING)
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "你好")
    url = f"/api/v1/guides/conversations/{conversation}/holds"
    assert (await client.get(url, headers=world.guide_headers)).json() == []
    held = await client.post(
        "/api/v1/guides/holds",
        json={"conversation": conversation, "sku": world.skus["驼/L"], "ttl_seconds": 3600},
        headers=world.guide_headers,
    )
    listed = (await client.get(url, headers=world.guide_headers)).json()
    assert [(h["id"], h["status"], h["order"]) for h in listed] == [
        (held.json()["id"], "active", None)
    ]
    for other in (world.stranger_headers, world.colleague_headers):
        refused = await client.get(url, headers=other)
        assert refused.status_code == 404
    released = await client.post(
        f"/api/v1/guides/holds/{held.json()['id']}/release", headers=world.guide_headers
    )
    assert released.json()["status"] == "released"
    assert (await client.get(url, headers=world.guide_headers)).json() == []
