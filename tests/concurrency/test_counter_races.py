"""Counters that many requests bump at once are counted in the database, not as ``+= 1``
on a loaded row (issue #11, case 10's class), on SQLite and PostgreSQL: a shopper's
messages sent at once all count unread for the guide."""

from __future__ import annotations

import asyncio

import httpx

from loopmall.core.state import AppState
from tests.guides.fixtures import make_world, start_chat

MESSAGES = 20


async def test_messages_sent_at_once_all_count_unread(
    state: AppState, client: httpx.AsyncClient
) -> None:
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "在吗？")

    sent = await asyncio.gather(
        *(
            client.post(
                "/api/v1/mall/vero/chat/messages", json={"body": f"第{i}条"}, headers=world.shopper
            )
            for i in range(MESSAGES)
        )
    )

    assert [r.status_code for r in sent] == [201] * MESSAGES
    listed = await client.get("/api/v1/guides/conversations", headers=world.guide_headers)
    assert [(c["id"], c["unread"]) for c in listed.json()] == [(conversation, 1 + MESSAGES)]
