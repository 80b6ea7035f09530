"""FastAPI dependencies for who is calling and what they may do.

API clients send ``Authorization: Bearer <token>``; pages use the session cookie. A
cookie-authenticated unsafe request (POST/PUT/PATCH/DELETE) must carry the session's
CSRF token in the ``X-CSRF-Token`` header or a ``csrf_token`` form field.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request

from loopmall.core.errors import CsrfFailed, Unauthorized
from loopmall.core.http import get_state
from loopmall.core.uow import UnitOfWork
from loopmall.identity import service
from loopmall.identity.guards import guards
from loopmall.identity.permissions import Audience, Perm
from loopmall.identity.principal import Principal

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


async def optional_principal(request: Request) -> Principal | None:
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    state = get_state(request)
    principal = None
    auth = request.headers.get("authorization", "")
    async with UnitOfWork(state.read_factory) as uow:
        if auth.lower().startswith("bearer "):
            principal = await service.resolve_token(uow.session, auth[7:].strip(), via="bearer")
            if principal is None:
                raise Unauthorized("The bearer token is not valid or has expired")
        else:
            cookie = request.cookies.get(state.settings.session_cookie)
            if cookie:
                principal = await service.resolve_token(uow.session, cookie, via="cookie")
    if principal is not None and principal.via == "cookie" and request.method in UNSAFE_METHODS:
        await check_csrf(request, principal.csrf_token)
    request.state.principal = principal
    return principal


async def check_csrf(request: Request, expected: str) -> None:
    """Raise ``CsrfFailed`` unless the request carries ``expected`` in the ``X-CSRF-Token``
    header or the form's ``csrf_token`` field (staff and shopper cookie sessions alike)."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, expected):
        raise CsrfFailed()


@guards(Audience.STAFF)
async def current_principal(
    principal: Principal | None = Depends(optional_principal),
) -> Principal:
    if principal is None:
        raise Unauthorized("Log in first")
    return principal


def require(perm: Perm) -> Callable[..., Awaitable[Principal]]:
    """Dependency: a logged-in staff member of a merchant holding ``perm``."""

    @guards(perm)
    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        principal.require_tenant()
        principal.require(perm)
        return principal

    return dependency


@guards(Audience.OPERATOR)
async def require_operator(principal: Principal = Depends(current_principal)) -> Principal:
    if not principal.is_operator:
        from loopmall.core.errors import Forbidden

        raise Forbidden("Only platform operators may do this")
    return principal
