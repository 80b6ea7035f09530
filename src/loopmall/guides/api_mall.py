"""The shopper's side of the guide chat, under ``/api/v1/mall/{slug}/``: pick a guide (or
talk to the bound one), read and send messages, tap a product card, see my fittings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution import service as attribution
from loopmall.core.errors import ValidationFailed
from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import Page, decode_cursor, encode_cursor
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.deps import Shopper, require_shopper
from loopmall.customers.models import Customer
from loopmall.guides import chat, fittings, staffing, views
from loopmall.guides.delivery import deliver
from loopmall.guides.models import Conversation
from loopmall.guides.rules import MessageKind, Sender
from loopmall.guides.schemas import (
    ConversationOut,
    FittingOut,
    GuideOut,
    MessageOut,
    OpenChatIn,
    ShopperMessageIn,
    message_out,
)

router = APIRouter(prefix="/mall/{slug}", tags=["mall chat"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in to this mall"},
    404: {"description": "No such conversation, guide or message"},
    422: {"description": "`guide_required`, `not_a_guide`, `validation_failed`"},
}
PICK_TEXT = "我想试试这件"


class GuideRequired(ValidationFailed):
    code = "guide_required"
    title = "Pick a guide to talk to"


async def start(
    session: AsyncSession, tenant: Tenant, customer_id: int, guide: str | None
) -> Conversation:
    """The conversation with the chosen guide, else the open one, else the bound guide's."""
    if guide:
        staff = await staffing.staff_by_public_id(session, tenant, guide)
        return await chat.open_conversation(
            session, tenant, customer_id=customer_id, guide_staff_id=staff.id
        )
    found = await chat.find_open(session, tenant, customer_id)
    if found is not None:
        return found
    binding = await attribution.get_binding(session, tenant, customer_id)
    if binding is None or binding.guide_staff_id is None:
        raise GuideRequired("You have no guide yet: pick one", field="guide")
    return await chat.open_conversation(
        session, tenant, customer_id=customer_id, guide_staff_id=binding.guide_staff_id
    )


async def _mine(session: AsyncSession, shopper: Shopper, conversation: str | None) -> Conversation:
    if conversation:
        return await chat.get_conversation(
            session, shopper.tenant, conversation, customer_id=shopper.customer_id
        )
    return await start(session, shopper.tenant, shopper.customer_id, None)


async def _one_out(session: AsyncSession, conversation: Conversation) -> ConversationOut:
    customer = await session.get(Customer, conversation.customer_id)
    assert customer is not None
    (out,) = await views.conversations_out(session, [(conversation, customer)], for_customer=True)
    return out


@router.get("/chat/guides", response_model=Page[GuideOut], responses=PROBLEMS)
async def guides_to_pick(
    cursor: str | None = Query(None, max_length=40, pattern=r"^[A-Za-z0-9_-]+$"),
    limit: int = Query(staffing.PICK_PAGE, ge=1, le=100),
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[GuideOut]:
    """A page of the mall's guides (by id), with their stores, to start a conversation
    with."""
    after = decode_cursor(cursor) if cursor else 0
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
        raise ValidationFailed("The cursor is not valid", field="cursor")
    rows = await staffing.guides_page(uow.session, shopper.tenant, after_id=after, limit=limit + 1)
    next_cursor = encode_cursor(rows[limit - 1].staff.id) if len(rows) > limit else None
    items = [
        GuideOut(
            id=g.staff.public_id,
            name=g.staff.name,
            role=g.staff.role,
            store=g.store.public_id if g.store else None,
            store_name=g.store.name if g.store else None,
        )
        for g in rows[:limit]
    ]
    return Page[GuideOut](items=items, next_cursor=next_cursor)


@router.post("/chat", response_model=ConversationOut, responses=PROBLEMS)
async def open_chat(
    data: OpenChatIn,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> ConversationOut:
    """Open (or find) the conversation with ``guide``, or with my bound guide."""
    found = await start(uow.session, shopper.tenant, shopper.customer_id, data.guide)
    out = await _one_out(uow.session, found)
    await uow.commit()
    return out


@router.get("/chat/messages", response_model=list[MessageOut], responses=PROBLEMS)
async def my_messages(
    request: Request,
    conversation: str | None = Query(None, max_length=40, pattern=r"^[a-z0-9_]+$"),
    before: str | None = Query(None, max_length=40, pattern=r"^[a-z0-9_]+$"),
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> list[MessageOut]:
    """A page of my conversation's history, oldest first; marks it read."""
    found = await _mine(uow.session, shopper, conversation)
    page = get_state(request).settings.chat_history_page
    rows = await chat.history(uow.session, shopper.tenant, found, before=before, limit=page)
    await chat.mark_read(uow.session, shopper.tenant, found, by=Sender.CUSTOMER)
    await uow.commit()
    return [message_out(m, found) for m in rows]


async def customer_says(
    session: AsyncSession, shopper: Shopper, data: ShopperMessageIn
) -> tuple[Conversation, MessageOut]:
    """Store the shopper's message (text, or a pick of a card) in their conversation."""
    found = await _mine(session, shopper, data.conversation)
    if data.pick:
        picked = await chat.get_message(session, shopper.tenant, found, data.pick)
        if picked.kind != MessageKind.CARD:
            raise ValidationFailed("Only a product card can be picked", field="pick")
        body = chat.clean_body(data.body, required=False) or PICK_TEXT
        card = {**picked.card, "card_message": picked.public_id}
        kind = MessageKind.PICK
    else:
        body, card, kind = chat.clean_body(data.body), {}, MessageKind.TEXT
    message = await chat.post(
        session, shopper.tenant, found, sender=Sender.CUSTOMER, kind=kind, body=body, card=card
    )
    return found, message_out(message, found)


@router.post("/chat/messages", status_code=201, response_model=MessageOut, responses=PROBLEMS)
async def send_message(
    request: Request,
    data: ShopperMessageIn,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Message my guide, or tap a card (``pick``): "I'd like to try this"."""
    sent: list[tuple[Conversation, MessageOut]] = []

    async def work() -> MessageOut:
        conversation, out = await customer_says(uow.session, shopper, data)
        sent.append((conversation, out))
        return out

    response = await run_idempotent(request, uow, shopper.scope, work)
    for conversation, out in sent:
        await deliver(get_state(request), shopper.tenant, conversation, out)
    return response


@router.get("/fittings", response_model=list[FittingOut], responses=PROBLEMS)
async def my_fittings(
    shopper: Shopper = Depends(require_shopper), uow: UnitOfWork = Depends(read_uow)
) -> list[FittingOut]:
    """My booked fittings, soonest first."""
    rows = await fittings.upcoming(uow.session, shopper.tenant, customer_id=shopper.customer_id)
    return await views.fittings_out(uow.session, rows)
