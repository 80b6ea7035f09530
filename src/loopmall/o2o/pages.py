"""o2o pages: the scan route ``/q/{code}`` and the join page ``/m/{slug}/join/{code}``.
Console pages live in ``console_pages`` and are included here.

A scan records itself (``o2o.scans.record_scan``), gives the device the visitor cookie (an
anonymous id merged into the customer at login) and redirects to what the code is for. An
unknown, retired or suspended-mall code gets a page that says so (404).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response

from loopmall.core.http import client_ip, get_state
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.core.visitors import new_visitor_id, valid_visitor_id
from loopmall.customers.deps import optional_shopper
from loopmall.customers.login import primary_app
from loopmall.customers.mall_page import CustomerPage, VisitorPage, customer_back_to, mall_visitor
from loopmall.customers.service import get_customer
from loopmall.identity.guards import MALL
from loopmall.merchants.models import Merchant
from loopmall.o2o import members, scans, service
from loopmall.o2o.console_pages import router as console_router
from loopmall.o2o.models import QrChannel
from loopmall.o2o.rules import CODE_PATTERN, ChannelKind
from loopmall.web.templating import render

router = APIRouter(include_in_schema=False)
router.include_router(console_router)

CodePath = Path(..., max_length=40)
Slug = Path(..., max_length=60, pattern=r"^[a-z0-9-]+$")
CODE = re.compile(CODE_PATTERN)


def _invalid(request: Request, reason: str, mall_slug: str | None = None) -> Response:
    return render(
        request, "o2o/invalid.html", {"reason": reason, "mall_slug": mall_slug}, status_code=404
    )


async def _find(state: AppState, code: str) -> tuple[QrChannel | None, Merchant | None]:
    async with UnitOfWork(state.read_factory) as uow:
        channel = await service.channel_by_code(uow.session, code)
        merchant = await uow.session.get(Merchant, channel.merchant_id) if channel else None
    return channel, merchant


@router.get("/q/{code:path}", dependencies=[MALL])
async def scan(request: Request, code: str = CodePath) -> Response:
    """A scanned QR code: record the scan, set the visitor cookie, go to its page."""
    state = get_state(request)
    if not CODE.match(code):
        return _invalid(request, "unknown")
    channel, merchant = await _find(state, code)
    if channel is None or merchant is None or merchant.status != "active":
        return _invalid(request, "unknown")
    if not channel.active:
        return _invalid(request, "inactive", merchant.slug)
    tenant = Tenant(merchant.id, merchant.slug)
    shopper = await optional_shopper(request, tenant.slug)
    settings = state.settings
    visitor = valid_visitor_id(request.cookies.get(settings.visitor_cookie)) or new_visitor_id()
    async with UnitOfWork(state.write_factory) as uow:
        row = await uow.session.get_one(QrChannel, channel.id)
        await scans.record_scan(
            uow.session,
            tenant,
            row,
            visitor_id=visitor,
            customer_id=shopper.customer_id if shopper else None,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
        )
        target = await service.landing(uow.session, tenant, row)
        await uow.commit()
    response = RedirectResponse(target, status_code=302)
    response.set_cookie(
        settings.visitor_cookie,
        visitor,
        max_age=settings.visitor_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )
    return response


async def _join_context(page: VisitorPage, uow: UnitOfWork, code: str) -> dict[str, Any] | None:
    tenant, mall, shopper = page.tenant, page.mall, page.customer
    channel = await service.channel_by_code(uow.session, code) if CODE.match(code) else None
    if channel is None or channel.merchant_id != tenant.id or channel.kind != ChannelKind.JOIN:
        return None
    member = False
    follow_name = None
    if shopper is not None:
        member = await members.is_member(uow.session, tenant, shopper.customer_id)
        customer = await get_customer(uow.session, tenant, shopper.customer_id)
        app = await primary_app(uow.session, tenant)
        if app is not None and not customer.followed:
            follow_name = app.name or mall.name
    return {
        "channel": channel,
        "shopper": shopper,
        "member": member,
        "follow_name": follow_name,
        "login_href": page.login_href(f"/m/{page.slug}/join/{code}"),
        "joined": page.request.query_params.get("joined") == "1",
    }


@router.get("/m/{slug}/join/{code}")
async def join_page(
    request: Request,
    slug: str = Slug,
    code: str = CodePath,
    page: VisitorPage = Depends(mall_visitor),
) -> Response:
    """The join offer: log in, join (member prices from then on), follow the account."""
    async with UnitOfWork(get_state(request).read_factory) as uow:
        context = await _join_context(page, uow, code)
    if context is None:
        return _invalid(request, "unknown", slug)
    if not context["channel"].active:
        return _invalid(request, "inactive", slug)
    return page.render("o2o/join.html", context, tab="me")


@router.post("/m/{slug}/join/{code}")
async def join_submit(
    request: Request,
    slug: str = Slug,
    code: str = CodePath,
    page: CustomerPage = Depends(customer_back_to("/m/{slug}/join/{code}")),
) -> Response:
    """Join (the form's CSRF token is checked with the shopper's session)."""
    shopper = page.customer
    async with UnitOfWork(get_state(request).write_factory) as uow:
        channel = await service.channel_by_code(uow.session, code) if CODE.match(code) else None
        if (
            channel is None
            or channel.merchant_id != shopper.tenant.id
            or channel.kind != ChannelKind.JOIN
        ):
            return _invalid(request, "unknown", slug)
        if not channel.active:
            return _invalid(request, "inactive", slug)
        await members.join(uow.session, shopper.tenant, shopper.customer_id, channel=channel)
        await uow.commit()
    return RedirectResponse(f"/m/{slug}/join/{code}?joined=1", status_code=303)
