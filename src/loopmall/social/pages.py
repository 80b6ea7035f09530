"""social: server-rendered pages.

- ``/m/{slug}/s/{token}`` — a share link's landing: verify, record the visit and the
  attribution touch, remember the share (so the visitor's own shares continue the chain),
  go to the shared page. A forged or foreign link gets an error page; nothing is written.
- ``/m/{slug}/s/{token}/poster.png`` — the share poster.
- ``POST /m/{slug}/shares`` and ``/m/{slug}/shares/{id}`` — sharing without script: the
  share bar's form makes the share and shows its link, QR code and poster.
- ``/console/shares`` (``console_pages``) — share chains.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path as FsPath
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from loopmall.catalog.images import URL_PREFIX
from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.customers.mall_page import CustomerPage, VisitorPage, mall_customer, mall_visitor
from loopmall.customers.service import get_customer
from loopmall.social import chains, links, service
from loopmall.social.api import create_for_shopper
from loopmall.social.console_pages import router as console_router
from loopmall.social.poster import PosterContent, render_poster
from loopmall.web.i18n import pick_locale
from loopmall.web.qr import qr_data_uri
from loopmall.web.templating import translator

router = APIRouter(include_in_schema=False)
router.include_router(console_router)

Slug = Path(..., max_length=60)
Token = Path(..., max_length=80)
ShareId = Path(..., max_length=40)
VISITOR = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def in_wechat(request: Request) -> bool:
    return "MicroMessenger" in request.headers.get("user-agent", "")


def visitor_id(request: Request) -> tuple[str, bool]:
    """The device's anonymous id from the visitor cookie (shared with QR scans), or a new
    one; the flag says whether the cookie must be set."""
    current = request.cookies.get(get_state(request).settings.visitor_cookie, "")
    if VISITOR.match(current):
        return current, False
    return "v_" + secrets.token_urlsafe(18), True


@router.get("/m/{slug}/s/{token}")
async def landing(
    request: Request,
    slug: str = Slug,
    token: str = Token,
    page: VisitorPage = Depends(mall_visitor),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """A share link opened: count it, credit it, continue to the shared page."""
    tenant, shopper = page.tenant, page.customer
    share = await service.verify_link(uow.session, tenant, token)
    visitor, new_visitor = visitor_id(request)
    await service.record_visit(
        uow.session,
        tenant,
        share,
        visitor_id=visitor,
        customer_id=shopper.customer_id if shopper else None,
        in_wechat=in_wechat(request),
    )
    await uow.commit()
    settings = get_state(request).settings
    response = RedirectResponse(
        service.target_path(tenant.slug, share.target_kind, share.target_ref), status_code=303
    )
    cookies = []
    if new_visitor:
        cookies.append((settings.visitor_cookie, visitor))
    if shopper is None or shopper.customer_id != share.sharer_customer_id:
        cookies.append((links.share_cookie(tenant.slug), token))
    for name, value in cookies:
        response.set_cookie(
            name,
            value,
            max_age=settings.visitor_ttl_seconds,
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
        )
    return response


def _upload_file(upload_dir: FsPath, url: str | None) -> FsPath | None:
    """The file behind an ``/uploads/…`` URL, if it stays inside the upload directory."""
    if not url or not url.startswith(URL_PREFIX):
        return None
    target = (upload_dir / url[len(URL_PREFIX) :]).resolve()
    return target if upload_dir.resolve() in target.parents else None


@router.get("/m/{slug}/s/{token}/poster.png")
async def poster(
    request: Request,
    slug: str = Slug,
    token: str = Token,
    page: VisitorPage = Depends(mall_visitor),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """The share poster: picture, title, price, the sharer, a QR code of the link."""
    tenant, mall = page.tenant, page.mall
    share = await service.verify_link(uow.session, tenant, token)
    view = await service.describe_target(
        uow.session, tenant, share.target_kind, share.target_ref, mall_name=mall.name
    )
    sharer = await get_customer(uow.session, tenant, share.sharer_customer_id)
    _ = translator(pick_locale(request))
    settings = get_state(request).settings
    name = sharer.display_name
    content = PosterContent(
        mall_name=mall.name,
        title=view.title,
        price_fen=view.price_fen,
        sharer_name=_("%(name)s recommends", name=name) if name else _("Recommended to you"),
        link=service.share_url(uow.session, tenant, share),
        picture=_upload_file(settings.upload_dir, view.image_url),
        brand_color=mall.primary_color,
        caption=_("Scan the QR code to open"),
    )
    # Drawing takes tens of milliseconds of CPU: off the event loop.
    png = await asyncio.to_thread(render_poster, content)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.post("/m/{slug}/shares")
async def share_form(
    request: Request,
    slug: str = Slug,
    target_kind: str = Form("", max_length=16),
    target: str = Form("", max_length=64),
    back: str = Form("", max_length=300),
    page: VisitorPage = Depends(mall_visitor),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """The share bar's form (no script): make the share, show its page."""
    shopper = page.customer
    if shopper is None:  # back to the page the bar was on (a path in this mall only)
        page.login_required(back)
    out = await create_for_shopper(
        uow.session,
        shopper,
        target_kind=target_kind,
        target=target,
        via=None,
        cookie=request.cookies.get(links.share_cookie(slug)),
    )
    await uow.commit()
    return RedirectResponse(f"/m/{slug}/shares/{quote(out.id)}", status_code=303)


@router.get("/m/{slug}/shares/{share_id}")
async def share_page(
    request: Request,
    slug: str = Slug,
    share_id: str = ShareId,
    page: CustomerPage = Depends(mall_customer),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """A shopper's own share: its link to copy, QR code and poster."""
    tenant, mall, shopper = page.tenant, page.mall, page.customer
    share = await service.get_share(uow.session, tenant, share_id)
    if share.sharer_customer_id != shopper.customer_id:
        raise service.ShareNotFound()
    view = await service.describe_target(
        uow.session, tenant, share.target_kind, share.target_ref, mall_name=mall.name
    )
    url = service.share_url(uow.session, tenant, share)
    token = service.token_for(uow.session, share)
    visits = await service.visit_counts(uow.session, tenant, [share.id])
    context: dict[str, Any] = {
        "share": share,
        "target": view,
        "url": url,
        "qr": qr_data_uri(url),
        "poster_url": links.landing_path(slug, token) + "/poster.png",
        "visits": visits.get(share.id, (0, 0))[0],
        "in_wechat": in_wechat(request),
    }
    return page.render("social/share.html", context, tab="me")


@router.get("/m/{slug}/me/shares")
async def my_shares_page(
    slug: str = Slug,
    page: CustomerPage = Depends(mall_customer),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """The shopper's shares, newest first: how often each was opened, the orders that
    followed and what the shopper earned through it."""
    tenant, mall, shopper = page.tenant, page.mall, page.customer
    shares = await service.shares_of_customer(uow.session, tenant, shopper.customer_id)
    visits = await service.visit_counts(uow.session, tenant, [s.id for s in shares])
    titles = await chains.target_titles(uow.session, tenant, shares)
    results = await chains.results_for_sharer(uow.session, tenant, shopper.customer_id, shares)
    rows = [
        {
            "id": s.public_id,
            "kind": s.target_kind,
            "title": titles.get(f"{s.target_kind}:{s.target_ref}", mall.name),
            "visits": visits.get(s.id, (0, 0))[0],
            "orders": results[s.id].orders,
            "earned_fen": results[s.id].earned_fen,
            "created_at": s.created_at,
        }
        for s in shares
    ]
    return page.render("social/my_shares.html", {"rows": rows}, tab="me")
