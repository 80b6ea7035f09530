"""The consumer auth API of a mall: ``/api/v1/mall/{slug}/auth/...``.

Logins answer with a bearer token (``access_token``); pages use the same services and set
the mall's cookie instead (pages.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from loopmall.core import clock
from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.pagination import Page, paginate_by_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.customers import login as consumer_login
from loopmall.customers import service as consumer_service
from loopmall.customers.deps import Shopper, require_shopper
from loopmall.customers.hooks import signed_in
from loopmall.customers.models import Customer
from loopmall.identity.deps import require
from loopmall.identity.guards import PUBLIC
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.integrations.sms import sender_for
from loopmall.merchants.models import Merchant

router = APIRouter(tags=["consumer auth"])


class SandboxLoginIn(BaseModel):
    name: PlainText = Field("体验用户", min_length=1, max_length=32)
    # Only a reserved test number (100 and 8 digits), see consumer_login.sandbox_sign_in.
    phone: str | None = Field(None, max_length=20)


PHONE_PATTERN = r"^1\d{10}$"


class SmsCodeIn(BaseModel):
    phone: str = Field(pattern=PHONE_PATTERN)


class SmsCodeOut(BaseModel):
    expires_in: int
    resend_after: int


class SmsLoginIn(BaseModel):
    phone: str = Field(pattern=PHONE_PATTERN)
    code: str = Field(min_length=4, max_length=8)


class WechatStartIn(BaseModel):
    redirect_uri: str = Field(min_length=8, max_length=400, pattern=r"^https?://")
    scope: str = Field("snsapi_userinfo", pattern=r"^snsapi_(base|userinfo)$")


class WechatStartOut(BaseModel):
    authorize_url: str
    state: str


class WechatLoginIn(BaseModel):
    code: str = Field(min_length=1, max_length=200)
    state: str = Field(min_length=1, max_length=200)


class ShopperTokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: datetime
    customer: str


class ShopperOut(BaseModel):
    customer: str
    name: str
    mall: str
    openid: str | None


def _ttl(request: Request) -> timedelta:
    return timedelta(seconds=get_state(request).settings.consumer_session_ttl_seconds)


@router.post(
    "/mall/{slug}/auth/sandbox",
    response_model=ShopperTokenOut,
    status_code=201,
    dependencies=[PUBLIC],
)
async def sandbox_token(
    slug: str, body: SandboxLoginIn, request: Request, uow: UnitOfWork = Depends(write_uow)
) -> ShopperTokenOut:
    """The demo's one-tap login (only when ``sandbox_login`` is on): a new sandbox shopper,
    or the one with a reserved test number (`phone`: 100 and 8 digits). 403
    `sandbox_login_disabled` when off, 422 `sandbox_phone_not_reserved` for another number."""
    settings = get_state(request).settings
    if not settings.sandbox_login:  # before the mall is looked up: nothing to learn here
        raise consumer_login.SandboxLoginDisabled()
    tenant = await consumer_service.tenant_for_slug(uow.session, slug)
    customer, token = await consumer_login.sandbox_sign_in(
        uow.session,
        tenant,
        settings,
        name=body.name,
        phone=body.phone,
        kind="api",
        ttl=_ttl(request),
    )
    await o2o_login(request, uow, tenant, customer)

    await uow.commit()
    return ShopperTokenOut(
        access_token=token,
        expires_at=clock.now() + _ttl(request),
        customer=customer.public_id,
    )


async def o2o_login(request: Request, uow: UnitOfWork, tenant: Tenant, customer: Customer) -> None:
    """Tell the domains that listen (``customers.hooks``: o2o claims the device's QR scans,
    the visitor cookie) that this customer signed in."""
    visitor = request.cookies.get(get_state(request).settings.visitor_cookie)
    await signed_in(uow.session, tenant, visitor, customer.id)


async def _issue(
    request: Request, uow: UnitOfWork, tenant: Tenant, customer: Customer, method: str
) -> ShopperTokenOut:
    token = await consumer_service.open_session(
        uow.session, tenant, customer, method=method, kind="api", ttl=_ttl(request)
    )
    await o2o_login(request, uow, tenant, customer)
    await uow.commit()
    return ShopperTokenOut(
        access_token=token, expires_at=clock.now() + _ttl(request), customer=customer.public_id
    )


async def send_login_code(request: Request, uow: UnitOfWork, slug: str, phone: str) -> int:
    """Create a code (committed) and text it; shared with the login page."""
    settings = get_state(request).settings
    tenant = await consumer_service.tenant_for_slug(uow.session, slug)
    mall_name = await uow.session.scalar(select(Merchant.name).where(Merchant.id == tenant.id))
    row, code = await consumer_login.request_sms_code(
        uow.session,
        tenant,
        phone,
        secret=settings.secret_key,
        ttl_seconds=settings.sms_code_ttl_seconds,
    )
    await uow.commit()
    text = consumer_login.sms_text(mall_name or slug, code, settings.sms_code_ttl_seconds)
    await sender_for(settings).send(phone, text, out_id=f"login-{tenant.id}-{row.id}")
    return settings.sms_code_ttl_seconds


@router.post(
    "/mall/{slug}/auth/sms/code", response_model=SmsCodeOut, status_code=202, dependencies=[PUBLIC]
)
async def sms_code(
    slug: str, body: SmsCodeIn, request: Request, uow: UnitOfWork = Depends(write_uow)
) -> SmsCodeOut:
    """Text a six-digit login code to a phone (one per minute, ten per hour)."""
    ttl = await send_login_code(request, uow, slug, body.phone)
    return SmsCodeOut(expires_in=ttl, resend_after=consumer_login.CODE_RESEND_SECONDS)


@router.post(
    "/mall/{slug}/auth/sms", response_model=ShopperTokenOut, status_code=201, dependencies=[PUBLIC]
)
async def sms_login(
    slug: str, body: SmsLoginIn, request: Request, uow: UnitOfWork = Depends(write_uow)
) -> ShopperTokenOut:
    """Log in with the phone and the code texted to it."""
    settings = get_state(request).settings
    tenant = await consumer_service.tenant_for_slug(uow.session, slug)
    try:
        customer = await consumer_login.verify_sms_code(
            uow.session, tenant, body.phone, body.code, secret=settings.secret_key
        )
    except consumer_login.InvalidSmsCode:
        await uow.commit()  # the failed try counts
        raise
    return await _issue(request, uow, tenant, customer, "sms")


@router.post(
    "/mall/{slug}/auth/wechat/start",
    response_model=WechatStartOut,
    status_code=201,
    dependencies=[PUBLIC],
)
async def wechat_start(
    slug: str, body: WechatStartIn, request: Request, uow: UnitOfWork = Depends(write_uow)
) -> WechatStartOut:
    """Begin WeChat web OAuth: send the browser to ``authorize_url``; WeChat comes back to
    ``redirect_uri`` with ``code`` and ``state`` for ``POST .../auth/wechat``."""
    settings = get_state(request).settings
    tenant = await consumer_service.tenant_for_slug(uow.session, slug)
    url = await consumer_login.start_wechat_login(
        uow.session, tenant, settings, scope=body.scope, redirect_uri=body.redirect_uri
    )
    await uow.commit()
    state = parse_qs(urlsplit(url).query)["state"][0]
    return WechatStartOut(authorize_url=url, state=state)


@router.post(
    "/mall/{slug}/auth/wechat",
    response_model=ShopperTokenOut,
    status_code=201,
    dependencies=[PUBLIC],
)
async def wechat_login(
    slug: str, body: WechatLoginIn, request: Request, uow: UnitOfWork = Depends(write_uow)
) -> ShopperTokenOut:
    """Finish WeChat web OAuth with the ``code`` and ``state`` WeChat redirected with."""
    state = get_state(request)
    settings = state.settings
    async with UnitOfWork(state.read_factory) as read:  # nothing held while WeChat answers
        tenant = await consumer_service.tenant_for_slug(read.session, slug)
        state_row, app = await consumer_login.check_state(read.session, tenant, body.state)
    client = consumer_login.oa_client(settings, app)
    ident = await consumer_login.fetch_wechat_identity(client, body.code, state_row.scope)
    customer = await consumer_login.complete_wechat_login(
        uow.session, tenant, state_row, app, ident
    )
    return await _issue(request, uow, tenant, customer, "wechat")


@router.get("/mall/{slug}/auth/me", response_model=ShopperOut)
async def shopper_me(slug: str, shopper: Shopper = Depends(require_shopper)) -> ShopperOut:
    """Who this token belongs to in this mall."""
    return ShopperOut(
        customer=shopper.customer_public_id,
        name=shopper.display_name,
        mall=shopper.tenant.slug,
        openid=shopper.openid,
    )


@router.delete("/mall/{slug}/auth/token", status_code=204)
async def revoke_shopper_token(
    slug: str,
    request: Request,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """Log out: revoke the token used for this request."""
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    if token is None:
        token = request.cookies.get(consumer_service.cookie_name(get_state(request).settings, slug))
    if token:
        await consumer_service.revoke(uow.session, shopper.tenant, token)
        await uow.commit()
    return Response(status_code=204)


@router.post("/mall/{slug}/auth/phone/code", response_model=SmsCodeOut, status_code=202)
async def phone_code(
    slug: str,
    body: SmsCodeIn,
    request: Request,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> SmsCodeOut:
    """Text a code to a phone the logged-in shopper wants to add to their account."""
    ttl = await send_login_code(request, uow, slug, body.phone)
    return SmsCodeOut(expires_in=ttl, resend_after=consumer_login.CODE_RESEND_SECONDS)


@router.post("/mall/{slug}/auth/phone", response_model=ShopperOut)
async def bind_phone(
    slug: str,
    body: SmsLoginIn,
    request: Request,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> ShopperOut:
    """Add a proven phone number to the shopper (order texts, found by phone elsewhere)."""
    try:
        await consumer_login.bind_phone(
            uow.session,
            shopper.tenant,
            shopper.customer_id,
            body.phone,
            body.code,
            secret=get_state(request).settings.secret_key,
        )
    except consumer_login.InvalidSmsCode:
        await uow.commit()
        raise
    await uow.commit()
    return ShopperOut(
        customer=shopper.customer_public_id,
        name=shopper.display_name,
        mall=shopper.tenant.slug,
        openid=shopper.openid,
    )


class CustomerOut(BaseModel):
    id: str
    name: str
    phone: str | None
    wechat: bool
    followed: bool
    first_seen_at: datetime
    last_seen_at: datetime
    first_paid_at: datetime | None


@router.get("/customers", response_model=Page[CustomerOut], tags=["customers"])
async def list_customers(
    cursor: str | None = None,
    limit: int = 50,
    principal: Principal = Depends(require(Perm.SETTINGS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[CustomerOut]:
    """The merchant's own customers (never another merchant's, even for the same person)."""
    tenant = principal.require_tenant()
    rows, next_cursor = await paginate_by_id(
        uow.session, scoped(Customer, tenant), Customer.id, cursor=cursor, limit=limit
    )
    return Page[CustomerOut](
        items=[
            CustomerOut(
                id=c.public_id,
                name=c.display_name,
                phone=c.phone,
                wechat=c.openid is not None,
                followed=c.followed,
                first_seen_at=c.first_seen_at,
                last_seen_at=c.last_seen_at,
                first_paid_at=c.first_paid_at,
            )
            for c in rows
        ],
        next_cursor=next_cursor,
    )
