"""``chat.message_sent``: every message stored in a conversation is published in the
transaction that stores it — who sent what kind, in which conversation — but not its words
(they may hold a phone number); a refused message publishes nothing."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from loopmall.core import clock
from loopmall.core.events import Event
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import envelope_of
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.guides.events import ChatMessageSent
from loopmall.guides.models import ChatMessage, Conversation
from tests.guides.fixtures import MORNING, make_world, start_chat


async def published(state: AppState, topic: str) -> list[Event]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id)
        )
        return [envelope_of(row).event() for row in rows]


async def test_each_message_is_published_without_its_words(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    frozen_clock.set(MORNING)
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "我的电话是13912345678，有M码吗")
    reply = await client.post(
        f"/api/v1/guides/conversations/{conversation}/messages",
        json={"body": "有的"},
        headers=world.guide_headers,
    )
    assert reply.status_code == 201, reply.text
    empty = await client.post(
        "/api/v1/mall/vero/chat/messages", json={"body": "  "}, headers=world.shopper
    )
    assert empty.status_code == 422

    async with UnitOfWork(state.read_factory) as uow:
        talk = await uow.session.scalar(select(Conversation))
        assert talk is not None
        messages = (await uow.session.scalars(select(ChatMessage).order_by(ChatMessage.id))).all()
    sent = await published(state, "chat.message_sent")
    assert sent == [
        ChatMessageSent(
            merchant_id=world.tenant.id,
            message_id=m.id,
            message_public_id=m.public_id,
            conversation_id=talk.id,
            conversation_public_id=conversation,
            customer_id=world.customer_id,
            guide_staff_id=world.guide.staff_id,
            store_id=world.store_id,
            sender=sender,
            kind="text",
            staff_id=staff,
        )
        for m, sender, staff in zip(
            messages,
            ["customer", "guide"],
            [None, world.guide.staff_id],
            strict=True,
        )
    ]
    assert sent[0].aggregate == f"conversation:{talk.id}"
    assert "13912345678" not in str([e.data() for e in sent])
