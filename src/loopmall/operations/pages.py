"""The operators' console pages: sign-in, and the dead letters with their retry buttons.

Operators sign in with their email and password, like ``/api/v1/platform/auth/token``, and
get the same kind of cookie session staff get (``identity.service.open_session``); every
POST of the console then carries the session's CSRF token.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from loopmall.core.http import client_ip, get_state, read_uow, write_uow
from loopmall.core.ids import new_token
from loopmall.core.redirects import safe_path
from loopmall.core.uow import UnitOfWork
from loopmall.identity import service
from loopmall.identity.api import get_throttle
from loopmall.identity.deps import current_principal, optional_principal, require_operator
from loopmall.identity.guards import PUBLIC
from loopmall.identity.pages import (
    check_login_csrf,
    end_cookie_session,
    set_login_csrf,
    start_cookie_session,
)
from loopmall.identity.principal import Principal
from loopmall.identity.throttle import Throttle
from loopmall.operations import dead_letters
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter()

HOME = "/platform/events/dead"
PAGE_SIZE = 50


def _safe_next(target: str | None) -> str:
    return safe_path(target, HOME, within="/platform")


def _login_page(
    request: Request, *, error: str = "", status_code: int = 200, email: str = ""
) -> Response:
    token = new_token(16)
    response = render(
        request,
        "operations/login.html",
        {
            "login_csrf": token,
            "error": error,
            "email": email,
            "next": _safe_next(request.query_params.get("next")),
        },
        status_code=status_code,
    )
    set_login_csrf(request, response, token)
    return response


@router.get("/platform/login", dependencies=[PUBLIC])
async def login_form(
    request: Request, principal: Principal | None = Depends(optional_principal)
) -> Response:
    if principal is not None and principal.is_operator:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request)


@router.post("/platform/login", dependencies=[PUBLIC])
async def login_submit(
    request: Request,
    email: str = Form("", max_length=120),
    password: str = Form("", max_length=200),
    csrf_token: str = Form(""),
    next: str = Form(HOME),
    uow: UnitOfWork = Depends(write_uow),
    throttle: Throttle = Depends(get_throttle),
) -> Response:
    """There is no session yet, so the form's CSRF check is the login cookie's double submit."""
    check_login_csrf(request, csrf_token)
    _ = translator(pick_locale(request))
    if not email.strip() or not password:
        return _login_page(
            request, error=_("Fill in the email and password."), status_code=422, email=email
        )
    settings = get_state(request).settings
    try:
        operator = await service.authenticate_operator(
            uow.session,
            email=email.strip(),
            password=password,
            client_ip=client_ip(request),
            throttle=throttle,
            max_failures=settings.login_max_failures,
            window_seconds=settings.login_window_seconds,
        )
    except service.InvalidCredentials:
        await uow.commit()  # remember the failure for throttling
        return _login_page(
            request, error=_("Wrong email or password."), status_code=401, email=email
        )
    except service.LoginThrottled:
        return _login_page(
            request,
            error=_("Too many failed logins. Wait a few minutes and try again."),
            status_code=429,
            email=email,
        )
    return await start_cookie_session(request, uow, _safe_next(next), operator=operator)


@router.post("/platform/logout")
async def logout(
    request: Request,
    _principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    return await end_cookie_session(request, uow, "/platform/login")


@router.get("/platform")
async def home(_operator: Principal = Depends(require_operator)) -> Response:
    return RedirectResponse(HOME, status_code=303)


def _filters_query(filters: dead_letters.DeadFilter, **more: object) -> str:
    """The list's address with ``filters`` (and ``more``) in its query, blanks left out."""
    params = {
        "subscriber": filters.subscriber,
        "topic": filters.topic,
        "merchant": filters.merchant,
        **more,
    }
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{HOME}?{query}" if query else HOME


def _flash(request: Request, retried: int | None, skipped: int | None) -> tuple[str, str]:
    _ = translator(pick_locale(request))
    if retried is None and skipped is None:
        return "", ""
    if not retried and not skipped:
        return _("Select at least one delivery to retry."), "warn"
    parts = []
    if retried:
        parts.append(
            _("Retried %(n)s deliveries: they are delivered on the next round.", n=retried)
        )
    if skipped:
        parts.append(_("%(n)s were not dead any more (retried already or delivered).", n=skipped))
    return " ".join(parts), "ok" if not skipped else "warn"


@router.get("/platform/events/dead")
async def dead_letters_page(
    request: Request,
    subscriber: str = Query("", max_length=120),
    topic: str = Query("", max_length=100),
    merchant: str = Query("", max_length=40),
    cursor: str | None = Query(None, max_length=200),
    retried: int | None = Query(None, ge=0, le=dead_letters.MAX_BULK),
    skipped: int | None = Query(None, ge=0, le=dead_letters.MAX_BULK),
    _operator: Principal = Depends(require_operator),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    filters = dead_letters.DeadFilter(
        subscriber=subscriber.strip() or None,
        topic=topic.strip() or None,
        merchant=merchant.strip() or None,
    )
    letters, next_cursor = await dead_letters.list_dead(
        uow.session, filters, cursor=cursor, limit=PAGE_SIZE
    )
    flash, flash_kind = _flash(request, retried, skipped)
    return render(
        request,
        "operations/dead_letters.html",
        {
            "letters": letters,
            "filters": filters,
            "subscribers": await dead_letters.dead_by_subscriber(uow.session),
            "topics": await dead_letters.dead_topics(uow.session),
            "next_url": _filters_query(filters, cursor=next_cursor) if next_cursor else "",
            "flash": flash,
            "flash_kind": flash_kind,
        },
    )


async def _retry_and_return(
    uow: UnitOfWork, ids: list[int], subscriber: str, topic: str, merchant: str
) -> Response:
    result = await dead_letters.retry_many(uow.session, ids)
    await uow.commit()
    filters = dead_letters.DeadFilter(subscriber=subscriber, topic=topic, merchant=merchant)
    target = _filters_query(
        filters,
        retried=len(result.retried),
        skipped=len(result.not_dead) + len(result.not_found),
    )
    return RedirectResponse(target, status_code=303)


@router.post("/platform/events/dead/retry")
async def retry_selected(
    ids: list[int] = Form([]),
    subscriber: str = Form("", max_length=120),
    topic: str = Form("", max_length=100),
    merchant: str = Form("", max_length=40),
    _operator: Principal = Depends(require_operator),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """The ticked rows; back to the list as it was filtered, with a line on what happened."""
    return await _retry_and_return(uow, ids[: dead_letters.MAX_BULK], subscriber, topic, merchant)


@router.post("/platform/events/dead/{delivery_id}/retry")
async def retry_one(
    delivery_id: int = Path(..., ge=1, lt=2**63),
    subscriber: str = Form("", max_length=120),
    topic: str = Form("", max_length=100),
    merchant: str = Form("", max_length=40),
    _operator: Principal = Depends(require_operator),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """One row's button (it sends the list's form, whose ticks it ignores)."""
    return await _retry_and_return(uow, [delivery_id], subscriber, topic, merchant)
