"""The consumer auth API of a mall: ``/api/v1/mall/{slug}/auth/...``.

Logins answer with a bearer token (``access_token``); pages use the same services and set
the mall's cookie instead (consumer_pages.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from loopmall.core import clock
from loopmall.core.errors import Forbidden
from loopmall.core.http import get_state, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.identity import consumer_service
from loopmall.identity.consumer_deps import Shopper, require_shopper

router = APIRouter(tags=["consumer auth"])


class SandboxLoginIn(BaseModel):
    name: str = Field("体验用户", min_length=1, max_length=32)
    phone: str | None = Field(None, pattern=r"^1\d{10}$")


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


class SandboxDisabled(Forbidden):
    code = "sandbox_login_disabled"
    title = "Sandbox login is switched off"


def _ttl(request: Request) -> timedelta:
    return timedelta(seconds=get_state(request).settings.consumer_session_ttl_seconds)


@router.post("/mall/{slug}/auth/sandbox", response_model=ShopperTokenOut, status_code=201)
async def sandbox_token(
    slug: str, body: SandboxLoginIn, request: Request, uow: UnitOfWork = Depends(write_uow)
) -> ShopperTokenOut:
    """The demo's one-tap login (only when ``sandbox_login`` is on)."""
    if not get_state(request).settings.sandbox_login:
        raise SandboxDisabled()
    tenant = await consumer_service.tenant_for_slug(uow.session, slug)
    customer, token = await consumer_service.sandbox_login(
        uow.session, tenant, name=body.name, phone=body.phone
    )
    await uow.commit()
    return ShopperTokenOut(
        access_token=token,
        expires_at=clock.now() + consumer_service.DEFAULT_TTL,
        customer=customer.public_id,
    )


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
