"""o2o JSON routes (mounted under /api/v1): QR channels for the console and apps — create,
list with their funnel, look at, change, scans, QR and poster files — and the shopper's
membership (``/mall/{slug}/membership``, ``/mall/{slug}/join/{code}``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.http import read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import Page
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.deps import Shopper, require_shopper
from loopmall.customers.models import Customer
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm, Role
from loopmall.identity.principal import Principal
from loopmall.o2o import members, printing, scans, service
from loopmall.o2o.models import QrChannel
from loopmall.o2o.rules import CODE_PATTERN, ChannelInactive, ChannelKind, ChannelNotFound
from loopmall.o2o.schemas import (
    ChannelIn,
    ChannelOut,
    ChannelPatch,
    FunnelOut,
    MembershipOut,
    ScanOut,
    WelcomeOut,
)

router = APIRouter(tags=["qr channels"])

CHANNEL_ID = Path(..., min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Not allowed"},
    404: {"description": "No such QR code, store, guide, product or SKU (or not yours)"},
    409: {"description": "`channel_exists`: the store or guide has its code already"},
    422: {"description": "`channel_target_invalid`, `not_a_guide`, bad input"},
}


def scope_of(principal: Principal) -> dict[str, Any]:
    """What a caller sees: a guide their own codes, a store role its stores' codes."""
    if principal.role is Role.GUIDE:
        return {"store_ids": None, "guide_staff_id": principal.staff_id}
    return {"store_ids": principal.store_ids, "guide_staff_id": None}


def channel_out(view: service.ChannelView, funnel: scans.Funnel | None = None) -> ChannelOut:
    c = view.channel
    return ChannelOut(
        id=c.public_id,
        kind=c.kind,
        code=c.code,
        name=c.name,
        url=view.url,
        store=view.store_public_id,
        store_name=view.store_name,
        guide=view.guide_public_id,
        guide_name=view.guide_name,
        product=view.product_public_id,
        product_title=view.product_title,
        sku=view.sku_public_id,
        place_name=c.place_name,
        place_address=c.place_address,
        poster_title=c.poster_title,
        poster_text=c.poster_text,
        coupon_title=c.coupon_title,
        coupon_fen=c.coupon_fen,
        coupon_threshold_fen=c.coupon_threshold_fen,
        active=c.active,
        created_at=c.created_at,
        funnel=FunnelOut(**funnel.__dict__) if funnel is not None else None,
    )


async def channels_out(
    session: AsyncSession, tenant: Tenant, rows: list[QrChannel]
) -> list[ChannelOut]:
    views = await service.views(session, tenant, rows)
    funnels = await scans.funnels(session, tenant, [r.id for r in rows])
    return [channel_out(v, funnels[v.channel.id]) for v in views]


@router.post("/channels", response_model=ChannelOut, status_code=201, responses=ERRORS)
async def create_channel(
    body: ChannelIn,
    request: Request,
    principal: Principal = Depends(require(Perm.CHANNELS_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Make a QR code (supports ``Idempotency-Key``)."""
    tenant = principal.require_tenant()

    async def work() -> ChannelOut:
        row = await service.create_channel(
            uow.session,
            tenant,
            kind=body.kind,
            name=body.name,
            store_public_id=body.store,
            guide_public_id=body.guide,
            product_public_id=body.product,
            sku_public_id=body.sku,
            place_name=body.place_name,
            place_address=body.place_address,
            poster_title=body.poster_title,
            poster_text=body.poster_text,
            coupon_title=body.coupon_title,
            coupon_fen=body.coupon_fen,
            coupon_threshold_fen=body.coupon_threshold_fen,
        )
        return (await channels_out(uow.session, tenant, [row]))[0]

    return await run_idempotent(request, uow, principal.scope, work)


@router.get("/channels", response_model=Page[ChannelOut], responses=ERRORS)
async def list_channels(
    kind: ChannelKind | None = Query(None),
    active: bool | None = Query(None),
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
    principal: Principal = Depends(require(Perm.CHANNELS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[ChannelOut]:
    """The merchant's QR codes, oldest first, each with its funnel (scans → visitors →
    members → orders → GMV). A guide sees their own codes, a store role its stores'."""
    tenant = principal.require_tenant()
    rows, next_cursor = await service.list_channels(
        uow.session,
        tenant,
        kind=kind.value if kind else None,
        active=active,
        cursor=cursor,
        limit=limit,
        **scope_of(principal),
    )
    items = await channels_out(uow.session, tenant, rows)
    return Page[ChannelOut](items=items, next_cursor=next_cursor)


async def _visible(uow: UnitOfWork, principal: Principal, channel: str) -> QrChannel:
    return await service.visible_channel(
        uow.session, principal.require_tenant(), channel, **scope_of(principal)
    )


@router.get("/channels/{channel}", response_model=ChannelOut, responses=ERRORS)
async def get_channel(
    channel: str = CHANNEL_ID,
    principal: Principal = Depends(require(Perm.CHANNELS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> ChannelOut:
    """One QR code with its funnel."""
    row = await _visible(uow, principal, channel)
    return (await channels_out(uow.session, principal.require_tenant(), [row]))[0]


@router.patch("/channels/{channel}", response_model=ChannelOut, responses=ERRORS)
async def update_channel(
    body: ChannelPatch,
    channel: str = CHANNEL_ID,
    principal: Principal = Depends(require(Perm.CHANNELS_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> ChannelOut:
    """Change a code's name, poster words or place; ``{"active": false}`` retires it
    (a scan of a retired code shows that it is no longer in use)."""
    tenant = principal.require_tenant()
    row = await service.update_channel(
        uow.session, tenant, channel, body.model_dump(exclude_unset=True)
    )
    out = (await channels_out(uow.session, tenant, [row]))[0]
    await uow.commit()
    return out


@router.get("/channels/{channel}/scans", response_model=list[ScanOut], responses=ERRORS)
async def channel_scans(
    channel: str = CHANNEL_ID,
    limit: int = Query(50, ge=1, le=200),
    principal: Principal = Depends(require(Perm.CHANNELS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> list[ScanOut]:
    """The code's latest scans, newest first."""
    tenant = principal.require_tenant()
    row = await _visible(uow, principal, channel)
    found = await scans.recent_scans(uow.session, tenant, row.id, limit=limit)
    ids = {s.customer_id for s in found if s.customer_id}
    customers: dict[int, str] = {}
    if ids:
        rows = await uow.session.execute(
            select(Customer.id, Customer.public_id).where(
                Customer.merchant_id == tenant.id, Customer.id.in_(ids)
            )
        )
        customers = {i: p for i, p in rows.all()}
    return [
        ScanOut(
            at=s.at,
            visitor=s.visitor_id,
            customer=customers.get(s.customer_id) if s.customer_id else None,
            ip=s.ip,
        )
        for s in found
    ]


@router.get(
    "/channels/{channel}/qr.{fmt}",
    responses=ERRORS | {200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
)
async def channel_qr(
    channel: str = CHANNEL_ID,
    fmt: str = Path(..., pattern=r"^(png|svg)$"),
    principal: Principal = Depends(require(Perm.CHANNELS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """The bare QR code to print (PNG or SVG)."""
    row = await _visible(uow, principal, channel)
    view = (await service.views(uow.session, principal.require_tenant(), [row]))[0]
    data, media = printing.qr_file(view, fmt)
    return Response(data, media_type=media)


@router.get(
    "/channels/{channel}/poster",
    responses=ERRORS | {200: {"content": {"image/png": {}, "application/pdf": {}}}},
)
async def channel_poster(
    channel: str = CHANNEL_ID,
    size: str = Query("a4", pattern=r"^(a4|a5)$"),
    format: str = Query("png", pattern=r"^(png|pdf)$"),
    principal: Principal = Depends(require(Perm.CHANNELS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """The code's poster (A4 or A5, PNG or PDF): the mall's logo, title, text, QR code."""
    tenant = principal.require_tenant()
    row = await _visible(uow, principal, channel)
    view = (await service.views(uow.session, tenant, [row]))[0]
    data, media = await printing.poster_file(uow.session, tenant, view, size, format)
    name = f"poster-{row.code}-{size}.{format}"
    return Response(
        data, media_type=media, headers={"Content-Disposition": f'inline; filename="{name}"'}
    )


async def membership_out(session: AsyncSession, tenant: Tenant, customer_id: int) -> MembershipOut:
    found = await members.get_membership(session, tenant, customer_id)
    if found is None or found.status != members.ACTIVE:
        return MembershipOut(member=False)
    grant = await members.grant_for(session, tenant, found.id)
    return MembershipOut(
        member=True,
        id=found.public_id,
        joined_at=found.joined_at,
        welcome_coupon=WelcomeOut(
            title=grant.title,
            amount_fen=grant.amount_fen,
            threshold_fen=grant.threshold_fen,
            status=grant.status,
        )
        if grant
        else None,
    )


@router.get("/mall/{slug}/membership", response_model=MembershipOut, tags=["mall membership"])
async def my_membership(
    shopper: Shopper = Depends(require_shopper), uow: UnitOfWork = Depends(read_uow)
) -> MembershipOut:
    """Whether the shopper is a member of this mall (member prices apply), and the welcome
    coupon their join code granted."""
    return await membership_out(uow.session, shopper.tenant, shopper.customer_id)


@router.post(
    "/mall/{slug}/join/{code}",
    response_model=MembershipOut,
    status_code=201,
    tags=["mall membership"],
    responses={404: {"description": "`channel_not_found`, `channel_inactive`"}},
)
async def join(
    code: str = Path(..., pattern=CODE_PATTERN),
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Join the merchant's membership through a join code (201; 200 when already a
    member — nothing changes)."""
    tenant = shopper.tenant
    channel = await service.channel_by_code(uow.session, code)
    if channel is None or channel.merchant_id != tenant.id or channel.kind != ChannelKind.JOIN:
        raise ChannelNotFound()
    if not channel.active:
        raise ChannelInactive()
    joined = await members.join(uow.session, tenant, shopper.customer_id, channel=channel)
    out = await membership_out(uow.session, tenant, shopper.customer_id)
    await uow.commit()
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if joined.new else 200)
