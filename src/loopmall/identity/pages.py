"""Console login and logout; the overview (the console's home) is with the staff pages
(``staff.pages``), since it counts them."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from loopmall.core.errors import CsrfFailed
from loopmall.core.http import client_ip, get_state, write_uow
from loopmall.core.ids import new_token
from loopmall.core.redirects import safe_path
from loopmall.core.uow import UnitOfWork
from loopmall.identity import service
from loopmall.identity.api import get_throttle
from loopmall.identity.deps import current_principal, optional_principal
from loopmall.identity.guards import PUBLIC
from loopmall.identity.models import Operator
from loopmall.identity.principal import Principal
from loopmall.identity.throttle import Throttle
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter()

LOGIN_CSRF_COOKIE = "lm_login_csrf"


def _safe_next(target: str | None) -> str:
    return safe_path(target, "/console")


def check_login_csrf(request: Request, sent: str) -> None:
    """The double-submit check for forms sent before there is a session (login, signup):
    the form's token must equal the ``lm_login_csrf`` cookie set with the form."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise CsrfFailed()


def set_login_csrf(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=get_state(request).settings.cookie_secure,
        max_age=3600,
    )


async def start_console_session(
    request: Request, uow: UnitOfWork, staff: service.StaffRef, target: str
) -> Response:
    """Open a cookie session for ``staff``, commit, and redirect to ``target``."""
    return await start_cookie_session(request, uow, target, staff=staff)


async def start_cookie_session(
    request: Request,
    uow: UnitOfWork,
    target: str,
    *,
    staff: service.StaffRef | None = None,
    operator: Operator | None = None,
) -> Response:
    """Open a cookie session for a staff member or a platform operator, commit, and
    redirect to ``target`` (the console's and the platform console's sign-in both end here)."""
    settings = get_state(request).settings
    token, _row = await service.open_session(
        uow.session,
        kind="cookie",
        ttl_seconds=settings.session_ttl_seconds,
        staff=staff,
        operator=operator,
    )
    await uow.commit()
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        settings.session_cookie,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        max_age=settings.session_ttl_seconds,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


async def end_cookie_session(request: Request, uow: UnitOfWork, login_page: str) -> Response:
    """Revoke this browser's session and send it to ``login_page``."""
    settings = get_state(request).settings
    cookie = request.cookies.get(settings.session_cookie)
    if cookie:
        await service.revoke_session(uow.session, cookie)
        await uow.commit()
    response = RedirectResponse(login_page, status_code=303)
    response.delete_cookie(settings.session_cookie)
    return response


def _login_page(
    request: Request,
    *,
    error: str = "",
    status_code: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    token = new_token(16)
    response = render(
        request,
        "identity/login.html",
        {
            "login_csrf": token,
            "error": error,
            "values": values or {},
            "next": _safe_next(request.query_params.get("next")),
        },
        status_code=status_code,
    )
    set_login_csrf(request, response, token)
    return response


@router.get("/console/login", dependencies=[PUBLIC])
async def login_form(
    request: Request, principal: Principal | None = Depends(optional_principal)
) -> Response:
    if principal is not None and principal.kind == "staff":
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request)


@router.post("/console/login", dependencies=[PUBLIC])
async def login_submit(
    request: Request,
    merchant: str = Form(""),
    phone: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/console"),
    uow: UnitOfWork = Depends(write_uow),
    throttle: Throttle = Depends(get_throttle),
) -> Response:
    """Login uses a double-submit cookie for CSRF, since there is no session yet."""
    check_login_csrf(request, csrf_token)
    _ = translator(pick_locale(request))
    values = {"merchant": merchant, "phone": phone}
    if not merchant.strip() or not phone.strip() or not password:
        return _login_page(
            request,
            error=_("Fill in the merchant code, phone and password."),
            status_code=422,
            values=values,
        )
    settings = get_state(request).settings
    try:
        staff = await service.authenticate_staff(
            uow.session,
            merchant_slug=merchant.strip(),
            phone=phone.strip(),
            password=password,
            client_ip=client_ip(request),
            throttle=throttle,
            max_failures=settings.login_max_failures,
            window_seconds=settings.login_window_seconds,
        )
    except service.InvalidCredentials:
        await uow.commit()
        return _login_page(
            request,
            error=_("Wrong merchant code, phone or password."),
            status_code=401,
            values=values,
        )
    except service.LoginThrottled:
        return _login_page(
            request,
            error=_("Too many failed logins. Wait a few minutes and try again."),
            status_code=429,
            values=values,
        )
    return await start_console_session(request, uow, staff, _safe_next(next))


@router.post("/console/logout")
async def logout(
    request: Request,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    return await end_cookie_session(request, uow, "/console/login")
