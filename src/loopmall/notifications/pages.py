"""Mall pages of notifications: the inbox (``/m/{slug}/inbox``) and the invitation to follow
the merchant's service account after a first payment (``/m/{slug}/follow-invite``, an HTML
fragment the order page includes; empty when there is nothing to invite to)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from loopmall.core.http import read_uow, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.customers.login import primary_app
from loopmall.customers.mall_page import (
    CustomerPage,
    VisitorPage,
    customer_back_to,
    mall_customer,
    mall_visitor,
)
from loopmall.customers.service import get_customer
from loopmall.notifications import inbox, setup
from loopmall.notifications.console import router as console_router
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import translator

router = APIRouter(include_in_schema=False)
router.include_router(console_router)


def titles(request: Request) -> dict[str, str]:
    _ = translator(pick_locale(request))
    return {
        "order.created": _("Order placed"),
        "order.paid": _("Payment received"),
        "order.shipped": _("Order shipped"),
        "order.ready_for_pickup": _("Ready for pickup"),
        "order.completed": _("Order completed"),
        "order.cancelled": _("Order cancelled"),
        "order.refunded": _("Refund issued"),
        "fitting.booked": _("Fitting booked"),
        "fitting.reminder": _("Fitting reminder"),
    }


# The inbox's forms come back, after a login, to the inbox.
BACK_TO_INBOX = customer_back_to("/m/{slug}/inbox")


@router.get("/m/{slug}/inbox")
async def inbox_page(
    page: CustomerPage = Depends(mall_customer), uow: UnitOfWork = Depends(read_uow)
) -> Response:
    tenant, shopper = page.tenant, page.customer
    rows = await inbox.list_inbox(uow.session, tenant, shopper.customer_id)
    context: dict[str, Any] = {
        "messages": rows,
        "titles": titles(page.request),
        "unread": await inbox.unread_count(uow.session, tenant, shopper.customer_id),
    }
    return page.render("notifications/inbox.html", context, tab="me")


@router.post("/m/{slug}/inbox/read-all")
async def read_all(
    page: CustomerPage = Depends(BACK_TO_INBOX), uow: UnitOfWork = Depends(write_uow)
) -> Response:
    shopper = page.customer
    await inbox.mark_all_read(uow.session, shopper.tenant, shopper.customer_id)
    await uow.commit()
    return RedirectResponse(f"/m/{shopper.tenant.slug}/inbox", status_code=303)


@router.post("/m/{slug}/inbox/{message_id}/open")
async def open_message(
    message_id: str,
    page: CustomerPage = Depends(BACK_TO_INBOX),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """Mark the entry read and go where it points (the order)."""
    shopper = page.customer
    row = await inbox.mark_read(uow.session, shopper.tenant, shopper.customer_id, message_id)
    await uow.commit()
    return RedirectResponse(row.link or f"/m/{shopper.tenant.slug}/inbox", status_code=303)


@router.get("/m/{slug}/follow-invite")
async def follow_invite(
    page: VisitorPage = Depends(mall_visitor), uow: UnitOfWork = Depends(read_uow)
) -> Response:
    """The invitation fragment (empty unless paid once, not following, not dismissed)."""
    if page.customer is None:
        return HTMLResponse("")
    customer = await get_customer(uow.session, page.tenant, page.customer.customer_id)
    app = await primary_app(uow.session, page.tenant)
    if app is None or not setup.should_invite(customer):
        return HTMLResponse("")
    return page.render(
        "notifications/follow_invite.html", {"account_name": app.name or page.mall.name}
    )


@router.post("/m/{slug}/follow-invite/dismiss")
async def dismiss(
    page: VisitorPage = Depends(mall_visitor), uow: UnitOfWork = Depends(write_uow)
) -> Response:
    request, slug, shopper = page.request, page.slug, page.customer
    if shopper is not None:
        customer = await get_customer(uow.session, shopper.tenant, shopper.customer_id)
        await setup.dismiss_invite(uow.session, shopper.tenant, customer)
        await uow.commit()
    back = request.headers.get("referer", "")
    target = back if back.startswith(str(request.base_url)) else f"/m/{slug}/orders"
    return RedirectResponse(target, status_code=303)


def _in_wechat(request: Request) -> bool:
    return "micromessenger" in request.headers.get("user-agent", "").lower()


@router.get("/m/{slug}/notifications/subscribe")
async def subscribe_page(
    page: CustomerPage = Depends(mall_customer), uow: UnitOfWork = Depends(read_uow)
) -> Response:
    """Ask for consent to the mall's subscribe templates (WeChat's ``wx-open-subscribe``
    button; the answers are posted to the consents API by notifications.js)."""
    tenant, shopper = page.tenant, page.customer
    app = await primary_app(uow.session, tenant)
    templates = await setup.subscribe_template_ids(uow.session, tenant) if app else []
    consents = await setup.consent_counts(uow.session, tenant, shopper.customer_id)
    return page.render(
        "notifications/subscribe.html",
        {
            "templates": templates,
            "remaining": sum(consents.get(t, 0) for t in templates),
            "in_wechat": _in_wechat(page.request),
        },
        tab="me",
    )
