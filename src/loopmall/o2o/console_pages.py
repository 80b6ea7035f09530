"""Console pages of QR channels: the list with each code's funnel (scans → visitors →
members → orders → GMV) and the form for a new code, one code's page (QR, downloads,
recent scans, retire), its print page, and the QR / poster files."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Product
from loopmall.core.errors import LoopmallError, ValidationFailed
from loopmall.core.http import get_state
from loopmall.core.money import parse_yuan
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.merchants.models import Store
from loopmall.o2o import printing, scans, service
from loopmall.o2o.api import scope_of
from loopmall.o2o.rules import ChannelKind
from loopmall.staff.models import Staff
from loopmall.web.i18n import pick_locale
from loopmall.web.qr import qr_svg
from loopmall.web.templating import render, translator

router = APIRouter(include_in_schema=False)

ChannelId = Path(..., max_length=40, pattern=r"^qrc_[a-z0-9]+$")
PAGE_SIZE = 100
PICK_LIMIT = 200
FIELDS = (
    "kind",
    "name",
    "store",
    "guide",
    "product",
    "place_name",
    "place_address",
    "poster_title",
    "poster_text",
    "coupon_title",
    "coupon_yuan",
    "coupon_threshold_yuan",
)


def kind_labels(_: Any) -> dict[str, str]:
    return {
        "store": _("Store"),
        "guide": _("Shopping guide"),
        "product": _("Product in a store"),
        "placement": _("Poster placement"),
        "join": _("Join membership"),
    }


def error_text(_: Any, exc: LoopmallError) -> str:
    texts = {
        "channel_exists": _("This store or guide already has its QR code."),
        "channel_target_invalid": _("Fill in what this kind of code needs, and only that."),
        "not_a_guide": _("Choose an active shopping guide."),
        "not_found": _("Choose a store, guide and product from the lists."),
    }
    return texts.get(exc.code, _("That did not work. Please check the form."))


async def _choices(session: AsyncSession, tenant: Tenant) -> dict[str, Any]:
    stores = await session.execute(
        select(Store.public_id, Store.name)
        .where(Store.merchant_id == tenant.id)
        .order_by(Store.name)
        .limit(PICK_LIMIT)
    )
    guides = await session.execute(
        select(Staff.public_id, Staff.name)
        .where(
            Staff.merchant_id == tenant.id,
            Staff.role.in_(service.GUIDE_ROLES),
            Staff.active.is_(True),
        )
        .order_by(Staff.name)
        .limit(PICK_LIMIT)
    )
    products = await session.execute(
        select(Product.public_id, Product.title)
        .where(Product.merchant_id == tenant.id, Product.status == "active")
        .order_by(Product.id.desc())
        .limit(PICK_LIMIT)
    )
    return {"stores": stores.all(), "guides": guides.all(), "products": products.all()}


async def _list_page(
    request: Request,
    principal: Principal,
    uow: UnitOfWork,
    *,
    kind: str | None = None,
    cursor: str | None = None,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    tenant = principal.require_tenant()
    rows, next_cursor = await service.list_channels(
        uow.session, tenant, kind=kind, cursor=cursor, limit=PAGE_SIZE, **scope_of(principal)
    )
    views = await service.views(uow.session, tenant, rows)
    funnels = await scans.funnels(uow.session, tenant, [r.id for r in rows])
    can_write = principal.can(Perm.CHANNELS_WRITE)
    _ = translator(pick_locale(request))
    return render(
        request,
        "o2o/console_channels.html",
        {
            "views": views,
            "funnels": funnels,
            "kind": kind or "",
            "kinds": kind_labels(_),
            "next_cursor": next_cursor,
            "can_write": can_write,
            "choices": await _choices(uow.session, tenant) if can_write else {},
            "values": values or {"kind": "store"},
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/console/channels")
async def channels_page(
    request: Request,
    kind: str | None = Query(None, pattern=r"^(store|guide|product|placement|join|)$"),
    cursor: str | None = Query(None, max_length=200),
    principal: Principal = Depends(require(Perm.CHANNELS_READ)),
) -> Response:
    async with UnitOfWork(get_state(request).read_factory) as uow:
        return await _list_page(request, principal, uow, kind=kind or None, cursor=cursor)


def _fen(text: str, field: str) -> int | None:
    if not text.strip():
        return None
    try:
        return parse_yuan(text)
    except ValueError:
        raise ValidationFailed("Not an amount", field=field) from None


@router.post("/console/channels")
async def create_from_form(
    request: Request, principal: Principal = Depends(require(Perm.CHANNELS_WRITE))
) -> Response:
    tenant = principal.require_tenant()
    form = await request.form()
    values = {f: str(form.get(f, ""))[:600] for f in FIELDS}
    async with UnitOfWork(get_state(request).write_factory) as uow:
        try:
            kind = values["kind"] if values["kind"] in ChannelKind._value2member_map_ else "?"
            row = await service.create_channel(
                uow.session,
                tenant,
                kind=kind,
                name=values["name"],
                store_public_id=values["store"] or None,
                guide_public_id=values["guide"] or None,
                product_public_id=values["product"] or None,
                place_name=values["place_name"],
                place_address=values["place_address"],
                poster_title=values["poster_title"],
                poster_text=values["poster_text"],
                coupon_title=values["coupon_title"],
                coupon_fen=_fen(values["coupon_yuan"], "coupon_fen"),
                coupon_threshold_fen=_fen(values["coupon_threshold_yuan"], "coupon_fen") or 0,
            )
            await uow.commit()
        except LoopmallError as exc:
            await uow.rollback()
            _ = translator(pick_locale(request))
            return await _list_page(
                request,
                principal,
                uow,
                values=values,
                error=error_text(_, exc),
                status_code=409 if exc.status == 409 else 422,
            )
    return RedirectResponse(f"/console/channels/{row.public_id}", status_code=303)


async def _view(
    uow: UnitOfWork, principal: Principal, channel: str
) -> tuple[Tenant, service.ChannelView]:
    tenant = principal.require_tenant()
    row = await service.visible_channel(uow.session, tenant, channel, **scope_of(principal))
    return tenant, (await service.views(uow.session, tenant, [row]))[0]


@router.get("/console/channels/{channel}")
async def channel_page(
    request: Request,
    channel: str = ChannelId,
    principal: Principal = Depends(require(Perm.CHANNELS_READ)),
) -> Response:
    async with UnitOfWork(get_state(request).read_factory) as uow:
        tenant, view = await _view(uow, principal, channel)
        funnel = (await scans.funnels(uow.session, tenant, [view.channel.id]))[view.channel.id]
        recent = await scans.recent_scans(uow.session, tenant, view.channel.id, limit=20)
    _ = translator(pick_locale(request))
    return render(
        request,
        "o2o/console_channel.html",
        {
            "view": view,
            "funnel": funnel,
            "scans": recent,
            "svg": qr_svg(view.url, scale=6).decode(),
            "kinds": kind_labels(_),
            "caption": printing.caption(view),
            "can_write": principal.can(Perm.CHANNELS_WRITE),
        },
    )


@router.post("/console/channels/{channel}/active")
async def set_active(
    request: Request,
    channel: str = ChannelId,
    principal: Principal = Depends(require(Perm.CHANNELS_WRITE)),
) -> Response:
    form = await request.form()
    async with UnitOfWork(get_state(request).write_factory) as uow:
        await service.update_channel(
            uow.session,
            principal.require_tenant(),
            channel,
            {"active": form.get("active") == "true"},
        )
        await uow.commit()
    return RedirectResponse(f"/console/channels/{channel}", status_code=303)


@router.get("/console/channels/{channel}/print")
async def print_page(
    request: Request,
    channel: str = ChannelId,
    size: str = Query("a4", pattern=r"^(a4|a5)$"),
    principal: Principal = Depends(require(Perm.CHANNELS_READ)),
) -> Response:
    async with UnitOfWork(get_state(request).read_factory) as uow:
        _tenant, view = await _view(uow, principal, channel)
    return render(request, "o2o/console_print.html", {"view": view, "size": size})


@router.get("/console/channels/{channel}/qr.{fmt}")
async def qr_download(
    request: Request,
    channel: str = ChannelId,
    fmt: str = Path(..., pattern=r"^(png|svg)$"),
    principal: Principal = Depends(require(Perm.CHANNELS_READ)),
) -> Response:
    async with UnitOfWork(get_state(request).read_factory) as uow:
        _tenant, view = await _view(uow, principal, channel)
    data, media = printing.qr_file(view, fmt)
    return Response(data, media_type=media)


@router.get("/console/channels/{channel}/poster.{fmt}")
async def poster_download(
    request: Request,
    channel: str = ChannelId,
    fmt: str = Path(..., pattern=r"^(png|pdf)$"),
    size: str = Query("a4", pattern=r"^(a4|a5)$"),
    principal: Principal = Depends(require(Perm.CHANNELS_READ)),
) -> Response:
    async with UnitOfWork(get_state(request).read_factory) as uow:
        tenant, view = await _view(uow, principal, channel)
        data, media = await printing.poster_file(uow.session, tenant, view, size, fmt)
    return Response(data, media_type=media)
