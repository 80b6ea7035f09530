"""FastAPI dependencies for the shopper (a consumer logged in to one merchant's mall).

API clients send ``Authorization: Bearer <token>``; mall pages use the mall's cookie
(``consumer_service.cookie_name``). A cookie-authenticated unsafe request must carry the
session's CSRF token (``X-CSRF-Token`` header or ``csrf_token`` form field), as for staff.

    @router.get("/m/{slug}/cart")
    async def cart(request: Request, slug: str,
                   shopper: Shopper | None = Depends(optional_shopper)): ...
        if shopper is None:
            return RedirectResponse(login_url(slug, request), status_code=303)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from fastapi import Request

from loopmall.core.http import get_state
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers import service as consumer_service
from loopmall.customers.service import ShopperUnauthorized
from loopmall.identity.deps import UNSAFE_METHODS, check_csrf
from loopmall.identity.guards import guards
from loopmall.identity.permissions import Audience


@dataclass(frozen=True)
class Shopper:
    tenant: Tenant
    consumer_id: int
    customer_id: int
    customer_public_id: str
    display_name: str
    csrf_token: str
    via: Literal["cookie", "bearer"]
    openid: str | None

    @property
    def scope(self) -> str:
        """The namespace for this shopper's idempotency keys."""
        return f"customer:{self.customer_id}"


def login_url(slug: str, request: Request | None = None, next_path: str | None = None) -> str:
    """Where a page sends a shopper who is not logged in; they come back to ``next``."""
    target = next_path
    if target is None and request is not None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    base = f"/m/{slug}/login"
    return f"{base}?next={quote(target, safe='/')}" if target else base


@guards(Audience.MALL)
async def optional_shopper(request: Request, slug: str) -> Shopper | None:
    """The shopper of this mall, or None. Sets ``request.state.shopper``."""
    cached = getattr(request.state, "shopper", None)
    if isinstance(cached, Shopper) and cached.tenant.slug == slug.lower():
        return cached
    state = get_state(request)
    auth = request.headers.get("authorization", "")
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    cookie = request.cookies.get(consumer_service.cookie_name(state.settings, slug))
    token = bearer if bearer is not None else cookie
    if not token:
        request.state.shopper = None
        return None
    async with UnitOfWork(state.read_factory) as uow:
        tenant = await consumer_service.tenant_for_slug(uow.session, slug)
        resolved = await consumer_service.resolve_token(uow.session, tenant, token)
    if resolved is None:
        if bearer is not None:
            raise ShopperUnauthorized("The bearer token is not valid or has expired")
        request.state.shopper = None
        return None
    shopper = Shopper(
        tenant=tenant,
        consumer_id=resolved.consumer_id,
        customer_id=resolved.customer_id,
        customer_public_id=resolved.customer_public_id,
        display_name=resolved.display_name,
        csrf_token=resolved.csrf_token,
        via="bearer" if bearer is not None else "cookie",
        openid=resolved.openid,
    )
    if shopper.via == "cookie" and request.method in UNSAFE_METHODS:
        await check_csrf(request, shopper.csrf_token)
    request.state.shopper = shopper
    return shopper


@guards(Audience.SHOPPER)
async def require_shopper(request: Request, slug: str) -> Shopper:
    """The shopper of this mall; raises ``ShopperUnauthorized`` (401, with ``login_url``)."""
    shopper = await optional_shopper(request, slug)
    if shopper is None:
        raise ShopperUnauthorized(login_url=login_url(slug, request))
    return shopper
