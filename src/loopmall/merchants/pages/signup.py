"""``/console/signup``: a new merchant opens its mall in one form and lands in the console."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from loopmall.core.errors import LoopmallError
from loopmall.core.http import write_uow
from loopmall.core.ids import new_token
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import optional_principal
from loopmall.identity.guards import PUBLIC
from loopmall.identity.pages import check_login_csrf, set_login_csrf, start_console_session
from loopmall.identity.principal import Principal
from loopmall.merchants import service
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter()

FIELDS = ("name", "slug", "owner_name", "owner_phone")


def error_messages(locale: str) -> dict[str, str]:
    _ = translator(locale)
    return {
        "invalid_slug": _(
            "The merchant code is 3–40 lowercase letters, digits or single hyphens, "
            "like wang-fruit."
        ),
        "reserved_slug": _("This merchant code is reserved; choose another."),
        "slug_taken": _("This merchant code is taken; choose another."),
        "invalid_phone": _("Enter an 11-digit mobile number, like 13800138000."),
        "weak_password": _("The password needs at least 8 characters."),
        "name": _("Enter the shop's name (at most 100 characters)."),
        "owner_name": _("Enter your name (at most 50 characters)."),
    }


def _page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    token = new_token(16)
    response = render(
        request,
        "merchants/signup.html",
        {"signup_csrf": token, "values": values or {}, "errors": errors or {}},
        status_code=status_code,
    )
    set_login_csrf(request, response, token)
    return response


@router.get("/console/signup", dependencies=[PUBLIC])
async def signup_form(
    request: Request, principal: Principal | None = Depends(optional_principal)
) -> Response:
    if principal is not None and principal.kind == "staff":
        return RedirectResponse("/console", status_code=303)
    return _page(request)


@router.post("/console/signup", dependencies=[PUBLIC])
async def signup_submit(
    request: Request,
    name: str = Form("", max_length=200),
    slug: str = Form("", max_length=200),
    owner_name: str = Form("", max_length=200),
    owner_phone: str = Form("", max_length=200),
    owner_password: str = Form("", max_length=200),
    csrf_token: str = Form("", max_length=200),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """Like login, the form is protected by the double-submit cookie (no session yet)."""
    check_login_csrf(request, csrf_token)
    values = {"name": name, "slug": slug, "owner_name": owner_name, "owner_phone": owner_phone}
    try:
        _merchant, owner = await service.onboard_merchant(
            uow.session,
            name=name,
            slug=slug,
            owner_name=owner_name,
            owner_phone=owner_phone,
            owner_password=owner_password,
        )
    except LoopmallError as exc:
        await uow.rollback()
        messages = error_messages(pick_locale(request))
        field = str(exc.extra.get("field", "form"))
        message = messages.get(exc.code) or messages.get(field) or exc.detail
        return _page(request, values=values, errors={field: message}, status_code=exc.status)
    return await start_console_session(request, uow, owner, "/console/settings?welcome=1")
