"""Conversations between a customer and a guide: opening one, messages, history, unread.

Functions take the session and the tenant, flush and never commit. Delivering a message
live (WebSocket fan-out) is the caller's step after the commit (``guides.hub``), so nobody
sees a message that was not stored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from loopmall.attribution import service as attribution
from loopmall.core import clock
from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.text import check_text
from loopmall.core.valueset import one_of
from loopmall.customers.models import Customer
from loopmall.guides.events import ChatMessageSent
from loopmall.guides.models import ChatMessage, Conversation
from loopmall.guides.rules import MAX_TEXT, MessageKind, Sender
from loopmall.guides.staffing import guide_store, require_guide

OPEN = "open"


def clean_body(text: str, *, required: bool = True) -> str:
    """Message text: stripped, 1–1000 characters, no control characters except newlines."""
    text = check_text((text or "").strip(), field="body", multiline=True)
    if (required and not text) or len(text) > MAX_TEXT:
        raise ValidationFailed(f"A message is 1–{MAX_TEXT} characters of text", field="body")
    return text


async def get_conversation(
    session: AsyncSession,
    tenant: Tenant,
    public_id: str,
    *,
    guide_staff_id: int | None = None,
    store_ids: frozenset[int] | None = None,
    customer_id: int | None = None,
) -> Conversation:
    """The conversation with this public id as the caller may see it: a guide's own, a
    store's, or a customer's own. NotFound otherwise (another merchant's too)."""
    stmt = scoped(Conversation, tenant, Conversation.public_id == public_id)
    if guide_staff_id is not None:
        stmt = stmt.where(Conversation.guide_staff_id == guide_staff_id)
    if store_ids is not None:
        stmt = stmt.where(one_of(Conversation.store_id, store_ids))
    if customer_id is not None:
        stmt = stmt.where(Conversation.customer_id == customer_id)
    found: Conversation | None = await session.scalar(stmt)
    if found is None:
        raise NotFound("No such conversation")
    return found


async def find_open(
    session: AsyncSession, tenant: Tenant, customer_id: int, guide_staff_id: int | None = None
) -> Conversation | None:
    """The customer's latest open conversation (with that guide, when given)."""
    stmt = scoped(
        Conversation,
        tenant,
        Conversation.customer_id == customer_id,
        Conversation.status == OPEN,
    )
    if guide_staff_id is not None:
        stmt = stmt.where(Conversation.guide_staff_id == guide_staff_id)
    found: Conversation | None = await session.scalar(stmt.order_by(Conversation.id.desc()))
    return found


async def open_conversation(
    session: AsyncSession, tenant: Tenant, *, customer_id: int, guide_staff_id: int
) -> Conversation:
    """The open conversation of this customer with this guide, started if there is none.
    Raises 422 ``not_a_guide`` for staff who are not an active guide of the merchant."""
    await require_guide(session, tenant, guide_staff_id)
    found = await find_open(session, tenant, customer_id, guide_staff_id)
    if found is not None:
        return found
    now = clock.now()
    conversation = Conversation(
        merchant_id=tenant.id,
        public_id=new_public_id("cnv"),
        customer_id=customer_id,
        guide_staff_id=guide_staff_id,
        store_id=await guide_store(session, tenant, guide_staff_id),
        status=OPEN,
        guide_unread=0,
        customer_unread=0,
        last_message_at=now,
        created_at=now,
    )
    session.add(conversation)
    await session.flush()
    return conversation


async def post(
    session: AsyncSession,
    tenant: Tenant,
    conversation: Conversation,
    *,
    sender: Sender,
    kind: MessageKind,
    body: str = "",
    card: dict[str, Any] | None = None,
    staff_id: int | None = None,
) -> ChatMessage:
    """Store one message and count it unread for the other side. A customer's message is
    a contact with the guide: it records an attribution touch ``guide`` and binds the
    customer to the guide as the merchant's rules allow."""
    now = clock.now()
    message = ChatMessage(
        merchant_id=tenant.id,
        public_id=new_public_id("msg"),
        conversation_id=conversation.id,
        sender=sender.value,
        staff_id=staff_id,
        kind=kind.value,
        body=body,
        card=card or {},
        at=now,
    )
    session.add(message)
    conversation.last_message_at = now
    await _count_unread(session, tenant, conversation, for_guide=sender is Sender.CUSTOMER)
    if sender is Sender.CUSTOMER:
        await _contact(session, tenant, conversation)
    await session.flush()
    await publish(
        session,
        ChatMessageSent(
            merchant_id=tenant.id,
            message_id=message.id,
            message_public_id=message.public_id,
            conversation_id=conversation.id,
            conversation_public_id=conversation.public_id,
            customer_id=conversation.customer_id,
            guide_staff_id=conversation.guide_staff_id,
            store_id=conversation.store_id,
            sender=message.sender,
            kind=message.kind,
            staff_id=staff_id,
        ),
    )
    return message


async def _count_unread(
    session: AsyncSession, tenant: Tenant, conversation: Conversation, *, for_guide: bool
) -> None:
    """One more unread message for the other side, counted in the database: ``+= 1`` on
    the loaded row lost messages sent at once (each wrote back what it had read + 1)."""
    column = Conversation.guide_unread if for_guide else Conversation.customer_unread
    counted = await session.scalar(
        update(Conversation)
        .where(Conversation.id == conversation.id, Conversation.merchant_id == tenant.id)
        .values({column: column + 1})
        .returning(column)
        .execution_options(synchronize_session=False)
    )
    # The loaded row learns the count without marking it changed (no stale write-back).
    set_committed_value(conversation, column.key, counted)


async def _contact(session: AsyncSession, tenant: Tenant, conversation: Conversation) -> None:
    await attribution.record_touch(
        session,
        tenant,
        kind=attribution.TouchKind.GUIDE,
        customer_id=conversation.customer_id,
        visitor_id=None,
        store_id=conversation.store_id,
        guide_staff_id=conversation.guide_staff_id,
    )
    await attribution.bind_customer(
        session,
        tenant,
        conversation.customer_id,
        store_id=conversation.store_id,
        guide_staff_id=conversation.guide_staff_id,
        source="chat",
    )


async def history(
    session: AsyncSession,
    tenant: Tenant,
    conversation: Conversation,
    *,
    before: str | None = None,
    limit: int = 50,
) -> list[ChatMessage]:
    """Up to ``limit`` messages before the message ``before`` (the latest without it),
    oldest first. An unknown ``before`` is NotFound."""
    stmt = scoped(ChatMessage, tenant, ChatMessage.conversation_id == conversation.id)
    if before:
        before_id = await session.scalar(
            select(ChatMessage.id).where(
                ChatMessage.merchant_id == tenant.id,
                ChatMessage.conversation_id == conversation.id,
                ChatMessage.public_id == before,
            )
        )
        if before_id is None:
            raise NotFound("No such message")
        stmt = stmt.where(ChatMessage.id < before_id)
    rows = await session.scalars(stmt.order_by(ChatMessage.id.desc()).limit(limit))
    return list(reversed(rows.all()))


async def get_message(
    session: AsyncSession, tenant: Tenant, conversation: Conversation, public_id: str
) -> ChatMessage:
    found: ChatMessage | None = await session.scalar(
        scoped(
            ChatMessage,
            tenant,
            ChatMessage.conversation_id == conversation.id,
            ChatMessage.public_id == public_id,
        )
    )
    if found is None:
        raise NotFound("No such message")
    return found


async def mark_read(
    session: AsyncSession, tenant: Tenant, conversation: Conversation, *, by: Sender
) -> None:
    if by is Sender.GUIDE:
        conversation.guide_unread = 0
    else:
        conversation.customer_unread = 0
    await session.flush()


async def list_conversations(
    session: AsyncSession,
    tenant: Tenant,
    *,
    guide_staff_id: int | None = None,
    store_ids: frozenset[int] | None = None,
    limit: int = 100,
) -> list[tuple[Conversation, Customer]]:
    """Open conversations, latest first, with their customers (one query)."""
    stmt = (
        select(Conversation, Customer)
        .join(Customer, Customer.id == Conversation.customer_id)
        .where(Conversation.merchant_id == tenant.id, Conversation.status == OPEN)
    )
    if guide_staff_id is not None:
        stmt = stmt.where(Conversation.guide_staff_id == guide_staff_id)
    if store_ids is not None:
        stmt = stmt.where(one_of(Conversation.store_id, store_ids))
    stmt = stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit)
    return [(c, k) for c, k in (await session.execute(stmt)).all()]


async def move_conversations(
    session: AsyncSession, tenant: Tenant, *, from_staff_id: int, to_staff_id: int, note: str
) -> list[Conversation]:
    """Hand the leaving guide's open conversations to another guide, each with a note."""
    rows = list(
        (
            await session.scalars(
                scoped(
                    Conversation,
                    tenant,
                    Conversation.guide_staff_id == from_staff_id,
                    Conversation.status == OPEN,
                ).order_by(Conversation.id)
            )
        ).all()
    )
    if not rows:
        return []
    store_id = await guide_store(session, tenant, to_staff_id)
    await session.execute(
        update(Conversation)
        .where(Conversation.id.in_([c.id for c in rows]))
        .values(guide_staff_id=to_staff_id, store_id=store_id)
        .execution_options(synchronize_session="fetch")
    )
    for conversation in rows:
        conversation.guide_staff_id = to_staff_id
        conversation.store_id = store_id
        await post(
            session, tenant, conversation, sender=Sender.SYSTEM, kind=MessageKind.SYSTEM, body=note
        )
    return rows


async def unread_for_guide(session: AsyncSession, tenant: Tenant, staff_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(Conversation.guide_unread), 0)).where(
            Conversation.merchant_id == tenant.id,
            Conversation.guide_staff_id == staff_id,
            Conversation.status == OPEN,
        )
    )
    return int(total or 0)
