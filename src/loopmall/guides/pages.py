"""guides: server-rendered pages — the guide's mobile workbench (``/guide``), a
conversation with its cards, hold and fitting forms, a customer's profile, the mall's chat
(``/m/{slug}/chat``) and the console's guides page (``/console/guides``, hand-over).
The pages read through the services; what they change goes through the JSON API
(``guides.js``), except the console's hand-over form."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from loopmall.attribution import service as attribution
from loopmall.core.errors import LoopmallError, ValidationFailed
from loopmall.core.http import read_uow, write_uow
from loopmall.core.pagination import decode_cursor, encode_cursor
from loopmall.core.uow import UnitOfWork
from loopmall.customers.mall_page import CustomerPage, mall_customer
from loopmall.customers.models import Customer
from loopmall.guides import chat, customers, fittings, holds, staffing, views
from loopmall.guides.access import actor_of, path_id, scope_of, viewer_of
from loopmall.guides.api_mall import GuideRequired, start
from loopmall.guides.pages_sales import router as sales_router
from loopmall.guides.rules import Sender
from loopmall.guides.schemas import message_out
from loopmall.guides.ws import router as ws_router
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.o2o.service import codes_for_guide
from loopmall.web.i18n import pick_locale
from loopmall.web.qr import qr_data_uri
from loopmall.web.templating import render, translator

router = APIRouter(include_in_schema=False)
router.include_router(ws_router)
router.include_router(sales_router)


WORK = require(Perm.GUIDE_WORK)


def _json(value: Any) -> str:
    # Inside <script type="application/json">: "</" must not close the tag.
    return json.dumps(value, ensure_ascii=False, default=str).replace("</", "<\\/")


@router.get("/guide")
async def workbench(
    request: Request,
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """The guide's phone: QR codes, conversations, customers, fittings, holds."""
    tenant = principal.require_tenant()
    staff_id = principal.staff_id
    assert staff_id is not None
    codes = []
    try:
        for view in await codes_for_guide(uow.session, tenant, staff_id):
            codes.append({"view": view, "qr": qr_data_uri(view.url, scale=4)})
    except LoopmallError:
        codes = []  # not a guide of a store yet: no code to show
    talks = await views.conversations_out(
        uow.session, await chat.list_conversations(uow.session, tenant, **scope_of(principal))
    )
    mine = await customers.my_customers(uow.session, tenant, viewer_of(principal))
    scope = scope_of(principal)
    upcoming = await views.fittings_out(
        uow.session,
        await fittings.upcoming(uow.session, tenant, guide_staff_id=scope.get("guide_staff_id")),
    )
    held = await views.holds_out(
        uow.session,
        await holds.active_for(uow.session, tenant, guide_staff_id=scope.get("guide_staff_id")),
    )
    await uow.commit()
    context = {
        "codes": codes,
        "conversations": talks,
        "customers": mine,
        "fittings": upcoming,
        "holds": held,
    }
    return render(request, "guides/workbench.html", context)


@router.get("/guide/c/{conversation}")
async def conversation_page(
    request: Request,
    conversation: str = path_id(),
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    found = await chat.get_conversation(uow.session, tenant, conversation, **scope_of(principal))
    settings = request.app.state.loopmall.settings
    rows = await chat.history(uow.session, tenant, found, limit=settings.chat_history_page)
    await chat.mark_read(uow.session, tenant, found, by=Sender.GUIDE)
    customer = await uow.session.get(Customer, found.customer_id)
    held = await views.holds_out(
        uow.session,
        [
            h
            for h in await holds.active_for(uow.session, tenant, customer_id=found.customer_id)
            if h.guide_staff_id == found.guide_staff_id
        ],
    )
    booked = await views.fittings_out(
        uow.session,
        await fittings.upcoming(
            uow.session, tenant, guide_staff_id=found.guide_staff_id, customer_id=found.customer_id
        ),
    )
    rules = await staffing.get_settings(uow.session, tenant)
    await uow.commit()
    data = {
        "side": "guide",
        "conversation": found.public_id,
        "socket": "/guide/ws",
        "send": f"/api/v1/guides/conversations/{found.public_id}/messages",
        "history": f"/api/v1/guides/conversations/{found.public_id}/messages",
        "messages": [message_out(m, found).model_dump(mode="json") for m in rows],
    }
    context = {
        "conversation": found,
        "customer": customer,
        "holds": held,
        "fittings": booked,
        "max_hold_hours": rules.max_hold_seconds // 3600,
        "slot_minutes": rules.slot_minutes,
        "chat_json": _json(data),
    }
    return render(request, "guides/conversation.html", context)


@router.get("/guide/customers/{customer}")
async def customer_page(
    request: Request,
    customer: str = path_id(),
    principal: Principal = Depends(require(Perm.CUSTOMERS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """A customer's profile; another guide's or store's customer is 404."""
    tenant = principal.require_tenant()
    found = await customers.customer_by_public_id(uow.session, tenant, customer)
    await customers.check_access(uow.session, tenant, viewer_of(principal), found.id)
    profile = await customers.profile(uow.session, tenant, found)
    context = {
        "profile": profile,
        "holds": await views.holds_out(uow.session, profile.holds),
        "fittings": await views.fittings_out(uow.session, profile.fittings),
    }
    return render(request, "guides/customer.html", context)


@router.get("/m/{slug}/chat")
async def mall_chat(
    request: Request,
    slug: str = Path(..., max_length=64),
    guide: str | None = Query(None, max_length=40, pattern=r"^[a-z0-9_]+$"),
    page: CustomerPage = Depends(mall_customer),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """The customer's chat with their guide; without one, the guides to pick from."""
    tenant, shopper = page.tenant, page.customer
    try:
        found = await start(uow.session, tenant, shopper.customer_id, guide)
    except GuideRequired:
        # The first guides only: a chain has thousands (the API pages the rest).
        guides = await staffing.guides_page(uow.session, tenant, limit=staffing.PICK_PAGE)
        return page.render("guides/pick.html", {"guides": guides}, tab="me")
    settings = request.app.state.loopmall.settings
    rows = await chat.history(uow.session, tenant, found, limit=settings.chat_history_page)
    await chat.mark_read(uow.session, tenant, found, by=Sender.CUSTOMER)
    guide_row = await staffing.require_guide(uow.session, tenant, found.guide_staff_id)
    upcoming = await views.fittings_out(
        uow.session, await fittings.upcoming(uow.session, tenant, customer_id=shopper.customer_id)
    )
    await uow.commit()
    data = {
        "side": "customer",
        "conversation": found.public_id,
        "socket": f"/m/{tenant.slug}/chat/ws",
        "send": f"/api/v1/mall/{tenant.slug}/chat/messages",
        "history": f"/api/v1/mall/{tenant.slug}/chat/messages?conversation={found.public_id}",
        "messages": [message_out(m, found).model_dump(mode="json") for m in rows],
    }
    context = {"guide": guide_row, "fittings": upcoming, "chat_json": _json(data)}
    return page.render("guides/chat.html", context, tab="me")


# A page of guides with their stores and customer counts: 100 cost ~25 ms of CPU a view at
# a chain's size, which is a p95 past 300 ms with 8 users on one worker (bench chainscale,
# issue #11); the next link pages on.
GUIDE_PAGE = 50


@router.get("/console/guides")
async def console_guides(
    request: Request,
    guide: str | None = Query(None, max_length=40, pattern=r"^[a-z0-9_]+$"),
    done: str | None = Query(None, max_length=40),
    cursor: str | None = Query(None, max_length=40, pattern=r"^[A-Za-z0-9_-]+$"),
    principal: Principal = Depends(require(Perm.STAFF_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """A page of guides (by id) with their customer counts; one guide's customers; the
    hand-over form (to a guide of the page)."""
    tenant = principal.require_tenant()
    after = decode_cursor(cursor) if cursor else 0
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
        raise ValidationFailed("The cursor is not valid", field="cursor")
    rows = await staffing.guides_page(
        uow.session, tenant, store_ids=principal.store_ids, after_id=after, limit=GUIDE_PAGE + 1
    )
    next_cursor = encode_cursor(rows[GUIDE_PAGE - 1].staff.id) if len(rows) > GUIDE_PAGE else None
    rows = rows[:GUIDE_PAGE]
    chosen = next((g for g in rows if g.staff.public_id == guide), None)
    if chosen is None and guide:  # a guide of another page: in the viewer's scope only
        found = await staffing.staff_by_public_id(uow.session, tenant, guide)
        same = await staffing.guides_page(
            uow.session, tenant, store_ids=principal.store_ids, after_id=found.id - 1, limit=1
        )
        chosen = same[0] if same and same[0].staff.id == found.id else None
    shown = [g.staff.id for g in rows] + ([chosen.staff.id] if chosen else [])
    counts = await attribution.bound_counts_of(uow.session, tenant, shown)
    theirs: list[customers.CustomerRow] = []
    if chosen is not None:
        viewer = customers.Viewer(chosen.staff.id, "guide", None)
        theirs = await customers.my_customers(uow.session, tenant, viewer)
    _ = translator(pick_locale(request))
    flash = _("Hand-over done: %(n)s customers moved", n=done) if done else None
    context = {
        "guides": rows,
        "counts": counts,
        "chosen": chosen,
        "customers": theirs,
        "flash": flash,
        "can_hand_over": principal.can(Perm.ATTRIBUTION_WRITE),
        "next_cursor": next_cursor,
        "cursor": cursor or "",
        "paged": bool(cursor),
    }
    return render(request, "guides/console.html", context)


@router.post("/console/guides/hand-over")
async def console_hand_over(
    request: Request,
    from_guide: str = Form(..., max_length=40),
    to_guide: str = Form(..., max_length=40),
    principal: Principal = Depends(require(Perm.ATTRIBUTION_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    leaving = await staffing.staff_by_public_id(uow.session, tenant, from_guide)
    taking = await staffing.staff_by_public_id(uow.session, tenant, to_guide)
    done = await customers.hand_over(
        uow.session,
        tenant,
        from_staff_id=leaving.id,
        to_staff_id=taking.id,
        actor=actor_of(principal),
    )
    await uow.commit()
    return RedirectResponse(
        f"/console/guides?guide={taking.public_id}&done={done.customers}", status_code=303
    )
