"""The logged-in shopper on payment routes, through identity's consumer dependencies.

Paying needs no login for a face-to-face order (a passer-by scans a store's code); every
other order is paid by its own customer. ``optional`` never raises for "not logged in";
``required`` raises 401 (pages turn it into a redirect to the mall's login).
"""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import Request, Response

from loopmall.core.errors import Unauthorized
from loopmall.core.http import get_state
from loopmall.core.visitors import new_visitor_id, valid_visitor_id


async def optional(request: Request, slug: str) -> Any | None:
    """The ``customers.deps.Shopper`` for this mall, or None."""
    try:
        deps = importlib.import_module("loopmall.customers.deps")
    except ImportError:  # consumer login not installed: everyone is anonymous
        return None
    try:
        return await deps.optional_shopper(request, slug)
    except Unauthorized:
        return None


async def required(request: Request, slug: str) -> Any:
    shopper = await optional(request, slug)
    if shopper is None:
        raise Unauthorized("Log in to the mall first")
    return shopper


def device_visitor(request: Request, response: Response) -> str:
    """The device's anonymous visitor id (the cookie QR scans set too); a device without
    one is given one on ``response``. An anonymous payer's Idempotency-Keys live under it."""
    settings = get_state(request).settings
    visitor = valid_visitor_id(request.cookies.get(settings.visitor_cookie))
    if visitor is None:
        visitor = new_visitor_id()
        response.set_cookie(
            settings.visitor_cookie,
            visitor,
            max_age=settings.visitor_ttl_seconds,
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
        )
    return visitor
