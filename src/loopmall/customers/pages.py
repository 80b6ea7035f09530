"""The mall's login pages: ``/m/{slug}/login`` (WeChat, phone + SMS code, the demo's
one-tap sandbox), ``/m/{slug}/oauth/callback``, ``/m/{slug}/logout`` and ``/m/{slug}/me``.

Logins set the mall's own cookie (``consumer_service.cookie_name``). Forms sent before
there is a session use the console's double-submit login CSRF token; WeChat's ``state`` is
bound to the browser by a cookie of its own.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from loopmall.core.errors import LoopmallError
from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.ids import new_token
from loopmall.core.redirects import safe_path
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers import login as consumer_login
from loopmall.customers import service as consumer_service
from loopmall.customers.address_pages import router as address_router
from loopmall.customers.api import send_login_code
from loopmall.customers.deps import Shopper, optional_shopper
from loopmall.customers.hooks import signed_in
from loopmall.customers.me_pages import consumer_login_phone_ok
from loopmall.customers.me_pages import router as me_router
from loopmall.customers.models import Customer
from loopmall.identity.guards import PUBLIC
from loopmall.identity.pages import check_login_csrf, set_login_csrf
from loopmall.integrations.sms import SmsFailed
from loopmall.merchants.shell import open_mall
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter(include_in_schema=False)
router.include_router(me_router)
router.include_router(address_router)

OAUTH_COOKIE = "lm_oauth"


def safe_next(slug: str, target: str | None) -> str:
    """Only a path inside this mall; anything else goes to the mall's "me" page."""
    return safe_path(target, f"/m/{slug}/me", within=f"/m/{slug}/")


def _oauth_cookie(slug: str) -> str:
    return f"{OAUTH_COOKIE}_{slug}"


async def _login_page(
    request: Request,
    uow: UnitOfWork,
    slug: str,
    *,
    next_url: str,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
    phone: str = "",
) -> Response:
    tenant, mall = await open_mall(uow.session, slug)
    app = await consumer_login.primary_app(uow.session, tenant)
    token = new_token(16)
    response = render(
        request,
        "customers/login.html",
        {
            "mall": mall,
            "tab": "me",
            "next": next_url,
            "login_csrf": token,
            "wechat": app is not None,
            "sandbox": get_state(request).settings.sandbox_login,
            "error": error,
            "notice": notice,
            "phone": phone,
        },
        status_code=status_code,
    )
    set_login_csrf(request, response, token)
    return response


async def start_shopper_session(
    request: Request,
    uow: UnitOfWork,
    tenant: Tenant,
    customer: Customer,
    method: str,
    target: str,
    token: str | None = None,
) -> Response:
    """Open a cookie session for ``customer`` in this mall (unless ``token`` is one already),
    commit, and redirect to ``target`` with the mall's cookie set."""
    settings = get_state(request).settings
    ttl = settings.consumer_session_ttl_seconds
    if token is None:
        token = await consumer_service.open_session(
            uow.session, tenant, customer, method=method, kind="cookie", ttl=timedelta(seconds=ttl)
        )
    visitor = request.cookies.get(settings.visitor_cookie)
    # o2o's hook (customers.hooks) makes the device's QR scans theirs
    await signed_in(uow.session, tenant, visitor, customer.id)
    await uow.commit()
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        consumer_service.cookie_name(settings, tenant.slug),
        token,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        max_age=ttl,
    )
    return response


def _is_wechat_browser(request: Request) -> bool:
    return "micromessenger" in request.headers.get("user-agent", "").lower()


@router.get("/m/{slug}/login", dependencies=[PUBLIC])
async def login_form(
    request: Request, slug: str, next: str = "", uow: UnitOfWork = Depends(read_uow)
) -> Response:
    target = safe_next(slug, next)
    if _is_wechat_browser(request) and request.query_params.get("manual") != "1":
        tenant = await consumer_service.tenant_for_slug(uow.session, slug)
        if await consumer_login.primary_app(uow.session, tenant) is not None:
            # Inside WeChat the silent snsapi_base login needs no tap at all.
            return RedirectResponse(
                f"/m/{slug}/login/wechat?scope=snsapi_base&next={quote(target, safe='/')}",
                status_code=303,
            )
    return await _login_page(request, uow, slug, next_url=target)


@router.post("/m/{slug}/login/sandbox", dependencies=[PUBLIC])
async def sandbox_submit(
    request: Request,
    slug: str,
    name: str = Form("体验用户", max_length=32),
    phone: str = Form("", max_length=20),
    next: str = Form(""),
    csrf_token: str = Form(""),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    check_login_csrf(request, csrf_token)
    _ = translator(pick_locale(request))
    target = safe_next(slug, next)
    if not get_state(request).settings.sandbox_login:
        return await _login_page(
            request, uow, slug, next_url=target, status_code=403,
            error=_("The demo login is switched off."),
        )  # fmt: skip
    settings = get_state(request).settings
    tenant = await consumer_service.tenant_for_slug(uow.session, slug)
    try:
        customer, token = await consumer_login.sandbox_sign_in(
            uow.session, tenant, settings, name=name.strip() or "体验用户",
            phone=phone.strip() or None, kind="cookie",
            ttl=timedelta(seconds=settings.consumer_session_ttl_seconds),
        )  # fmt: skip
    except consumer_login.SandboxPhoneNotReserved:
        return await _login_page(
            request, uow, slug, next_url=target, status_code=422,
            error=_("The demo login takes only test numbers: 100 followed by 8 digits."),
        )  # fmt: skip
    return await start_shopper_session(
        request, uow, tenant, customer, "sandbox", target, token=token
    )


@router.post("/m/{slug}/login/sms/code", dependencies=[PUBLIC])
async def sms_code_submit(
    request: Request,
    slug: str,
    phone: str = Form("", max_length=20),
    next: str = Form(""),
    csrf_token: str = Form(""),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    check_login_csrf(request, csrf_token)
    _ = translator(pick_locale(request))
    target, phone = safe_next(slug, next), phone.strip()
    if not consumer_login_phone_ok(phone):
        return await _login_page(
            request, uow, slug, next_url=target, status_code=422, phone=phone,
            error=_("Enter an 11-digit mobile number."),
        )  # fmt: skip
    try:
        await send_login_code(request, uow, slug, phone)
    except consumer_login.SmsCodeTooSoon:
        return await _login_page(
            request, uow, slug, next_url=target, status_code=429, phone=phone,
            error=_("A code was sent a moment ago. Wait a minute before asking again."),
        )  # fmt: skip
    except SmsFailed:
        return await _login_page(
            request, uow, slug, next_url=target, status_code=502, phone=phone,
            error=_("The text message could not be sent. Try again later."),
        )  # fmt: skip
    return await _login_page(
        request, uow, slug, next_url=target, phone=phone,
        notice=_("We texted a 6-digit code to %(phone)s.", phone=phone),
    )  # fmt: skip


@router.post("/m/{slug}/login/sms", dependencies=[PUBLIC])
async def sms_login_submit(
    request: Request,
    slug: str,
    phone: str = Form("", max_length=20),
    code: str = Form("", max_length=8),
    next: str = Form(""),
    csrf_token: str = Form(""),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    check_login_csrf(request, csrf_token)
    _ = translator(pick_locale(request))
    target, phone = safe_next(slug, next), phone.strip()
    tenant = await consumer_service.tenant_for_slug(uow.session, slug)
    try:
        customer = await consumer_login.verify_sms_code(
            uow.session, tenant, phone, code, secret=get_state(request).settings.secret_key
        )
    except consumer_login.InvalidSmsCode:
        await uow.commit()  # the failed try counts
        return await _login_page(
            request, uow, slug, next_url=target, status_code=401, phone=phone,
            error=_("The code is wrong or has expired."),
        )  # fmt: skip
    return await start_shopper_session(request, uow, tenant, customer, "sms", target)


@router.get("/m/{slug}/login/wechat", dependencies=[PUBLIC])
async def wechat_start(
    request: Request,
    slug: str,
    scope: str = "snsapi_userinfo",
    next: str = "",
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    settings = get_state(request).settings
    tenant = await consumer_service.tenant_for_slug(uow.session, slug)
    browser_key = new_token(18)
    url = await consumer_login.start_wechat_login(
        uow.session,
        tenant,
        settings,
        scope=scope if scope in ("snsapi_base", "snsapi_userinfo") else "snsapi_userinfo",
        redirect_uri=f"{settings.base_url.rstrip('/')}/m/{tenant.slug}/oauth/callback",
        next_url=safe_next(slug, next),
        browser_key=browser_key,
    )
    await uow.commit()
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        _oauth_cookie(tenant.slug),
        browser_key,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        max_age=int(consumer_login.STATE_TTL.total_seconds()),
    )
    return response


@router.get("/m/{slug}/oauth/callback", dependencies=[PUBLIC])
async def wechat_callback(
    request: Request,
    slug: str,
    state: str = "",
    code: str = "",
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    app_state = get_state(request)
    _ = translator(pick_locale(request))
    browser_key = request.cookies.get(_oauth_cookie(slug.lower()), "")
    async with UnitOfWork(app_state.read_factory) as read:
        tenant = await consumer_service.tenant_for_slug(read.session, slug)
        try:
            state_row, app = await consumer_login.check_state(
                read.session, tenant, state, browser_key
            )
        except consumer_login.OAuthStateInvalid:
            state_row = None
    if state_row is None:
        return await _login_page(
            request, uow, slug, next_url=safe_next(slug, None), status_code=400,
            error=_("The WeChat login expired or did not start here. Try again."),
        )  # fmt: skip
    if not code:  # the person declined
        return await _login_page(
            request, uow, slug, next_url=state_row.next_url,
            error=_("WeChat login was cancelled. You can log in with your phone instead."),
        )  # fmt: skip
    try:
        client = consumer_login.oa_client(app_state.settings, app)
        ident = await consumer_login.fetch_wechat_identity(client, code, state_row.scope)
        customer = await consumer_login.complete_wechat_login(
            uow.session, tenant, state_row, app, ident
        )
    except LoopmallError as exc:  # WeChat refused or was unreachable, the state was spent
        await uow.rollback()
        return await _login_page(
            request, uow, slug, next_url=state_row.next_url, status_code=502,
            error=_("WeChat login failed (%(reason)s). Try again.", reason=exc.detail),
        )  # fmt: skip
    response = await start_shopper_session(
        request, uow, tenant, customer, "wechat", safe_next(slug, state_row.next_url)
    )
    response.delete_cookie(_oauth_cookie(tenant.slug))
    return response


@router.post("/m/{slug}/logout")
async def logout(
    request: Request,
    slug: str,
    shopper: Shopper | None = Depends(optional_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    settings = get_state(request).settings
    name = consumer_service.cookie_name(settings, slug)
    if shopper is not None and (token := request.cookies.get(name)):
        await consumer_service.revoke(uow.session, shopper.tenant, token)
        await uow.commit()
    response = RedirectResponse(f"/m/{slug.lower()}/", status_code=303)
    response.delete_cookie(name)
    return response
