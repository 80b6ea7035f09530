"""JSON routes of the merchants domain: signup, the platform's merchant list, mall settings.

Store routes are in ``store_api.py`` and included here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import Page, paginate_by_id
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require, require_operator
from loopmall.identity.guards import PUBLIC
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.merchants import mall, service
from loopmall.merchants.blocks import parse_blocks
from loopmall.merchants.images import remove_upload, upload_url
from loopmall.merchants.models import MallSettings, Merchant
from loopmall.merchants.schemas import (
    GuideDiscountIn,
    GuideDiscountOut,
    LogoOut,
    MallSettingsIn,
    MallSettingsOut,
    MerchantOut,
    SignupIn,
    SignupOut,
)
from loopmall.merchants.store_api import router as store_router

router = APIRouter()
merchants = APIRouter(tags=["merchants"])
platform = APIRouter(tags=["platform"])
mall_router = APIRouter(tags=["mall"])

PUBLIC_ID = Path(..., min_length=1, max_length=40, description="Public id")
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Not allowed"},
    404: {"description": "Not found"},
    422: {"description": "Bad input"},
}
SIGNUP_SCOPE = "signup"


def merchant_out(merchant: Merchant) -> MerchantOut:
    return MerchantOut(
        id=merchant.public_id,
        slug=merchant.slug,
        name=merchant.name,
        status=merchant.status,
        created_at=merchant.created_at,
    )


def settings_out(settings: MallSettings) -> MallSettingsOut:
    return MallSettingsOut(
        mall_name=settings.mall_name,
        logo_url=upload_url(settings.logo_path),
        primary_color=settings.primary_color,
        accent_color=settings.accent_color,
        cod_enabled=settings.cod_enabled,
        blocks=parse_blocks(settings.blocks),
        updated_at=settings.updated_at,
    )


@merchants.post(
    "/merchants",
    response_model=SignupOut,
    status_code=201,
    responses={409: {"description": "slug_taken"}, 422: {"description": "Bad input"}},
    dependencies=[PUBLIC],
)
async def signup(
    body: SignupIn, request: Request, uow: UnitOfWork = Depends(write_uow)
) -> JSONResponse:
    """Open a new merchant with its owner (public; supports ``Idempotency-Key``).

    The owner then logs in with the merchant code, phone and password.
    """

    async def work() -> SignupOut:
        merchant, owner = await service.onboard_merchant(
            uow.session,
            name=body.name,
            slug=body.slug,
            owner_name=body.owner_name,
            owner_phone=body.owner_phone,
            owner_password=body.owner_password,
        )
        return SignupOut(
            merchant=merchant_out(merchant), owner_id=owner.public_id, console_url="/console"
        )

    # The caller has no account yet: the scope is the owner's phone, so a stranger who
    # happens to send the same key is not refused (or answered) for someone else's signup.
    return await run_idempotent(request, uow, f"{SIGNUP_SCOPE}:{body.owner_phone}", work)


@platform.get("/platform/merchants", response_model=Page[MerchantOut], responses=ERRORS)
async def list_merchants(
    q: str | None = Query(None, max_length=100, description="Text in the name or code"),
    status: str | None = Query(None, pattern="^(active|suspended)$"),
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
    _operator: Principal = Depends(require_operator),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[MerchantOut]:
    """Every merchant on the platform, oldest first (platform operators)."""
    rows, next_cursor = await paginate_by_id(
        uow.session,
        service.merchants_query(q=q, status=status),
        Merchant.id,
        cursor=cursor,
        limit=limit,
    )
    return Page[MerchantOut](items=[merchant_out(m) for m in rows], next_cursor=next_cursor)


async def _move(uow: UnitOfWork, public_id: str, status: str) -> MerchantOut:
    merchant = await service.set_merchant_status(uow.session, public_id, status)
    out = merchant_out(merchant)
    await uow.commit()
    return out


@platform.post(
    "/platform/merchants/{public_id}/suspend",
    response_model=MerchantOut,
    responses=ERRORS | {409: {"description": "Already suspended"}},
)
async def suspend_merchant(
    public_id: str = PUBLIC_ID,
    _operator: Principal = Depends(require_operator),
    uow: UnitOfWork = Depends(write_uow),
) -> MerchantOut:
    """Suspend a merchant: its staff's logins, sessions and tokens stop working at once."""
    return await _move(uow, public_id, "suspended")


@platform.post(
    "/platform/merchants/{public_id}/reactivate",
    response_model=MerchantOut,
    responses=ERRORS | {409: {"description": "Not suspended"}},
)
async def reactivate_merchant(
    public_id: str = PUBLIC_ID,
    _operator: Principal = Depends(require_operator),
    uow: UnitOfWork = Depends(write_uow),
) -> MerchantOut:
    """Let a suspended merchant's staff work again."""
    return await _move(uow, public_id, "active")


@mall_router.get("/mall/settings", response_model=MallSettingsOut, responses=ERRORS)
async def read_mall_settings(
    principal: Principal = Depends(require(Perm.SETTINGS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> MallSettingsOut:
    """The mall's name, logo, colours and home page blocks."""
    return settings_out(await mall.get_mall_settings(uow.session, principal.require_tenant()))


@mall_router.put("/mall/settings", response_model=MallSettingsOut, responses=ERRORS)
async def replace_mall_settings(
    body: MallSettingsIn,
    principal: Principal = Depends(require(Perm.SETTINGS_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> MallSettingsOut:
    """Replace the mall's settings (owners). The logo is uploaded at ``/mall/logo``."""
    settings = await mall.update_mall_settings(
        uow.session,
        principal.require_tenant(),
        mall_name=body.mall_name,
        primary_color=body.primary_color,
        accent_color=body.accent_color,
        cod_enabled=body.cod_enabled,
        blocks=body.blocks,
    )
    out = settings_out(settings)
    await uow.commit()
    return out


@mall_router.get("/mall/settings/guide-discount", response_model=GuideDiscountOut, responses=ERRORS)
async def read_guide_discount(
    principal: Principal = Depends(require(Perm.SETTINGS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> GuideDiscountOut:
    """What a guide may take off a store sale alone, in basis points (0: nothing)."""
    cap = await mall.guide_discount_cap(uow.session, principal.require_tenant())
    return GuideDiscountOut(cap_bp=cap)


@mall_router.put("/mall/settings/guide-discount", response_model=GuideDiscountOut, responses=ERRORS)
async def replace_guide_discount(
    body: GuideDiscountIn,
    principal: Principal = Depends(require(Perm.SETTINGS_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> GuideDiscountOut:
    """Set the guide's discount cap (owners); beyond it a discount needs an approver."""
    cap = await mall.set_guide_discount_cap(uow.session, principal.require_tenant(), body.cap_bp)
    await uow.commit()
    return GuideDiscountOut(cap_bp=cap)


@mall_router.post(
    "/mall/logo",
    response_model=LogoOut,
    responses=ERRORS
    | {413: {"description": "upload_too_large"}, 415: {"description": "not_an_image"}},
)
async def upload_logo(
    request: Request,
    file: UploadFile = File(..., description="PNG, JPEG, WebP or GIF"),
    principal: Principal = Depends(require(Perm.SETTINGS_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> LogoOut:
    """Upload the mall's logo; the image is decoded to prove what it is."""
    return await save_logo(request, uow, principal, file)


async def save_logo(
    request: Request, uow: UnitOfWork, principal: Principal, file: UploadFile
) -> LogoOut:
    """Check, store and commit a logo upload; the replaced file is deleted after commit
    (a failed commit leaves the new file unreferenced, never a missing logo)."""
    settings = get_state(request).settings
    # One byte over the limit is enough to know it is too large.
    data = await file.read(settings.upload_max_bytes + 1)
    saved, info, previous = await mall.set_logo(
        uow.session,
        principal.require_tenant(),
        data,
        upload_dir=settings.upload_dir,
        max_bytes=settings.upload_max_bytes,
    )
    logo_url = upload_url(saved.logo_path) or ""
    await uow.commit()
    if previous and previous != saved.logo_path:
        remove_upload(settings.upload_dir, previous)
    return LogoOut(logo_url=logo_url, format=info.format, width=info.width, height=info.height)


router.include_router(merchants)
router.include_router(platform)
router.include_router(mall_router)
router.include_router(store_router)
