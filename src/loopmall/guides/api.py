"""guides: JSON routes (mounted under /api/v1) of the guide workbench and the console.

A guide acts on their own conversations, holds and fittings; a store manager on those of
their stores; owners and managers on all. Anything outside that scope is 404. The shopper's
routes (``/mall/{slug}/chat``) are in ``api_mall`` and included here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from loopmall.core import clock
from loopmall.core.errors import ValidationFailed
from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.guides import chat, fittings, holds, staffing, views
from loopmall.guides.access import PROBLEMS, WORK, actor_of, path_id, scope_of
from loopmall.guides.api_customers import work_router as customers_router
from loopmall.guides.api_mall import router as mall_router
from loopmall.guides.api_sales import router as sales_router
from loopmall.guides.delivery import deliver
from loopmall.guides.holds import sku_for_card
from loopmall.guides.models import Conversation
from loopmall.guides.rules import FittingStatus, HoldOutcome, MessageKind, Sender
from loopmall.guides.schemas import (
    CardOut,
    ConversationOut,
    FittingIn,
    FittingOut,
    GuideMessageIn,
    HoldIn,
    HoldOut,
    MessageOut,
    OutcomeIn,
    SaleIn,
    SlotOut,
    message_out,
)
from loopmall.identity.principal import Principal

work_router = APIRouter(prefix="/guides", tags=["guides"])


async def _conversation(uow: UnitOfWork, principal: Principal, public_id: str) -> Conversation:
    return await chat.get_conversation(
        uow.session, principal.require_tenant(), public_id, **scope_of(principal)
    )


@work_router.get("/conversations", response_model=list[ConversationOut], responses=PROBLEMS)
async def list_conversations(
    principal: Principal = Depends(WORK), uow: UnitOfWork = Depends(read_uow)
) -> list[ConversationOut]:
    """Open conversations, latest first: a guide's own, a store manager's stores'."""
    rows = await chat.list_conversations(
        uow.session, principal.require_tenant(), **scope_of(principal)
    )
    return await views.conversations_out(uow.session, rows)


@work_router.get(
    "/conversations/{conversation}/messages",
    response_model=list[MessageOut],
    responses=PROBLEMS,
)
async def conversation_messages(
    request: Request,
    conversation: str = path_id(),
    before: str | None = Query(None, max_length=40, pattern=r"^[a-z0-9_]+$"),
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(write_uow),
) -> list[MessageOut]:
    """A page of the history (``chat_history_page`` messages before ``before``), oldest
    first; reading marks the conversation read for the guide."""
    tenant = principal.require_tenant()
    found = await _conversation(uow, principal, conversation)
    page = get_state(request).settings.chat_history_page
    rows = await chat.history(uow.session, tenant, found, before=before, limit=page)
    await chat.mark_read(uow.session, tenant, found, by=Sender.GUIDE)
    await uow.commit()
    return [message_out(m, found) for m in rows]


@work_router.post(
    "/conversations/{conversation}/messages",
    status_code=201,
    response_model=MessageOut,
    responses=PROBLEMS,
)
async def send_message(
    request: Request,
    data: GuideMessageIn,
    conversation: str = path_id(),
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Answer the customer: text, or a product card (``kind=card`` with ``sku``)."""
    tenant = principal.require_tenant()
    sent: list[tuple[Conversation, MessageOut]] = []

    async def work() -> MessageOut:
        found = await _conversation(uow, principal, conversation)
        if data.kind == "card":
            if not data.sku:
                raise ValidationFailed("A card names a SKU", field="sku")
            sku, product = await sku_for_card(uow.session, tenant, data.sku)
            image = await views.first_image(uow.session, tenant, product.id)
            card = views.card_of(sku, product, image)
            body = chat.clean_body(data.body, required=False)
            kind = MessageKind.CARD
        else:
            card, body, kind = {}, chat.clean_body(data.body), MessageKind.TEXT
        message = await chat.post(
            uow.session,
            tenant,
            found,
            sender=Sender.GUIDE,
            kind=kind,
            body=body,
            card=card,
            staff_id=principal.staff_id,
        )
        out = message_out(message, found)
        sent.append((found, out))
        return out

    response = await run_idempotent(request, uow, principal.scope, work)
    # Only after the commit (a replayed key sends nothing again).
    for found, out in sent:
        await deliver(get_state(request), tenant, found, out)
    return response


@work_router.get("/cards", response_model=list[CardOut], responses=PROBLEMS)
async def search_cards(
    q: PlainText = Query("", max_length=60),
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(read_uow),
) -> list[CardOut]:
    """Items to push as cards, with the free units at the guide's store."""
    tenant = principal.require_tenant()
    store_id = await staffing.guide_store(uow.session, tenant, principal.staff_id or 0)
    return await views.search_cards(uow.session, tenant, q.strip(), store_id=store_id)


async def _note(
    uow: UnitOfWork,
    principal: Principal,
    conversation: Conversation,
    kind: MessageKind,
    body: str,
    card: dict[str, Any],
) -> MessageOut:
    """A line in the chat telling the customer what the guide did (a hold, a fitting)."""
    tenant = principal.require_tenant()
    staff_id = principal.staff_id
    message = await chat.post(
        uow.session,
        tenant,
        conversation,
        sender=Sender.GUIDE,
        kind=kind,
        body=body,
        card=card,
        staff_id=staff_id,
    )
    return message_out(message, conversation)


@work_router.post("/holds", status_code=201, response_model=HoldOut, responses=PROBLEMS)
async def place_hold(
    request: Request,
    data: HoldIn,
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Hold an item at the store for the customer of the conversation, at most the
    merchant's maximum hold time (422 ``hold_too_long``)."""
    tenant = principal.require_tenant()
    notes: list[tuple[Conversation, MessageOut]] = []

    async def work() -> HoldOut:
        found = await _conversation(uow, principal, data.conversation)
        store_id = found.store_id
        if store_id is None:
            raise ValidationFailed("The guide works in no store", field="conversation")
        row = await holds.place(
            uow.session,
            tenant,
            guide_staff_id=found.guide_staff_id,
            customer_id=found.customer_id,
            store_id=store_id,
            sku_public_id=data.sku,
            quantity=data.quantity,
            ttl_seconds=data.ttl_seconds,
        )
        (out,) = await views.holds_out(uow.session, [row])
        card = {"hold": out.id, "title": row.title, "expires_at": row.expires_at.isoformat()}
        notes.append((found, await _note(uow, principal, found, MessageKind.HOLD, row.title, card)))
        return out

    response = await run_idempotent(request, uow, principal.scope, work)
    for conversation, note in notes:
        await deliver(get_state(request), tenant, conversation, note)
    return response


@work_router.get(
    "/conversations/{conversation}/holds", response_model=list[HoldOut], responses=PROBLEMS
)
async def conversation_holds(
    conversation: str = path_id(),
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(read_uow),
) -> list[HoldOut]:
    """The holds still active for the conversation's customer with its guide: what the
    guide's page lists (it asks again to drop a hold the till has just sold)."""
    tenant = principal.require_tenant()
    found = await _conversation(uow, principal, conversation)
    rows = await holds.active_for(uow.session, tenant, customer_id=found.customer_id)
    return await views.holds_out(
        uow.session, [h for h in rows if h.guide_staff_id == found.guide_staff_id]
    )


@work_router.post("/holds/{hold}/release", response_model=HoldOut, responses=PROBLEMS)
async def release_hold(
    hold: str = path_id(),
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(write_uow),
) -> HoldOut:
    """Give the held units back."""
    tenant = principal.require_tenant()
    row = await holds.get(uow.session, tenant, hold, **scope_of(principal))
    await holds.give_back(uow.session, tenant, row, HoldOutcome.RELEASED, actor=actor_of(principal))
    (out,) = await views.holds_out(uow.session, [row])
    await uow.commit()
    return out


@work_router.post("/holds/{hold}/sale", response_model=HoldOut, responses=PROBLEMS)
async def sell_hold(
    data: SaleIn,
    hold: str = path_id(),
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(write_uow),
) -> HoldOut:
    """Ring the held item up as a store sale at the store's price (the price pipeline),
    less a discount the guide may ask for: within the merchant's cap it is given, beyond
    it it waits for an approver. The till then records the money (``/store-sales``)."""
    tenant = principal.require_tenant()
    row = await holds.get(uow.session, tenant, hold, **scope_of(principal))
    await holds.sell(
        uow.session,
        tenant,
        row,
        actor=actor_of(principal),
        discount=data.discount.ask() if data.discount is not None else None,
        given_by_staff_id=principal.staff_id,
    )
    (out,) = await views.holds_out(uow.session, [row])
    await uow.commit()
    return out


@work_router.get("/fittings/slots", response_model=list[SlotOut], responses=PROBLEMS)
async def fitting_slots(
    conversation: str = Query(..., min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$"),
    day: date = Query(...),
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(read_uow),
) -> list[SlotOut]:
    """The day's slots at the conversation's store in its open hours, free or taken."""
    tenant = principal.require_tenant()
    found = await _conversation(uow, principal, conversation)
    if found.store_id is None:
        return []
    rows = await fittings.slots(
        uow.session, tenant, guide_staff_id=found.guide_staff_id, store_id=found.store_id, day=day
    )
    return [
        SlotOut(
            starts_at=s.starts_at,
            local_time=clock.local(s.starts_at).strftime("%H:%M"),
            taken=s.taken,
        )
        for s in rows
    ]


@work_router.post("/fittings", status_code=201, response_model=FittingOut, responses=PROBLEMS)
async def book_fitting(
    request: Request,
    data: FittingIn,
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Book a fitting at the store with the guide (optionally for a held item)."""
    tenant = principal.require_tenant()
    notes: list[tuple[Conversation, MessageOut]] = []

    async def work() -> FittingOut:
        found = await _conversation(uow, principal, data.conversation)
        if found.store_id is None:
            raise ValidationFailed("The guide works in no store", field="conversation")
        held = None
        if data.hold:
            held = await holds.get(
                uow.session, tenant, data.hold, guide_staff_id=found.guide_staff_id
            )
        row = await fittings.book(
            uow.session,
            tenant,
            guide_staff_id=found.guide_staff_id,
            customer_id=found.customer_id,
            store_id=found.store_id,
            starts_at=data.starts_at,
            guide_hold=held,
            note=data.note,
        )
        (out,) = await views.fittings_out(uow.session, [row])
        card = {"fitting": out.id, "local_time": out.local_time, "store_name": out.store_name}
        body = f"{out.local_time} {out.store_name}"
        notes.append((found, await _note(uow, principal, found, MessageKind.FITTING, body, card)))
        return out

    response = await run_idempotent(request, uow, principal.scope, work)
    for conversation, note in notes:
        await deliver(get_state(request), tenant, conversation, note)
    return response


@work_router.post("/fittings/{fitting}/outcome", response_model=FittingOut, responses=PROBLEMS)
async def end_fitting(
    data: OutcomeIn,
    fitting: str = path_id(),
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(write_uow),
) -> FittingOut:
    """At the fitting: ``sold`` (the hold becomes a store sale), ``released``, ``no_show``;
    or ``cancelled`` before it (the slot is freed)."""
    tenant = principal.require_tenant()
    row = await fittings.get(uow.session, tenant, fitting, **scope_of(principal))
    await fittings.end(
        uow.session,
        tenant,
        row,
        FittingStatus(data.outcome),
        actor=actor_of(principal),
        discount=data.discount.ask() if data.discount is not None else None,
        given_by_staff_id=principal.staff_id,
    )
    (out,) = await views.fittings_out(uow.session, [row])
    await uow.commit()
    return out


@work_router.get("/fittings", response_model=list[FittingOut], responses=PROBLEMS)
async def upcoming_fittings(
    principal: Principal = Depends(WORK), uow: UnitOfWork = Depends(read_uow)
) -> list[FittingOut]:
    tenant = principal.require_tenant()
    scope = scope_of(principal)
    rows = await fittings.upcoming(uow.session, tenant, guide_staff_id=scope.get("guide_staff_id"))
    if scope.get("store_ids") is not None:
        rows = [r for r in rows if r.store_id in scope["store_ids"]]
    return await views.fittings_out(uow.session, rows)


router = APIRouter()
router.include_router(work_router)
router.include_router(customers_router)
router.include_router(mall_router)
router.include_router(sales_router)
