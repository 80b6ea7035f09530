"""The shopper's "me" page: who they are, their orders and messages, adding a proven phone
number, logging out (the logout route lives with the login pages)."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse, Response

from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.customers import login as consumer_login
from loopmall.customers import service as consumer_service
from loopmall.customers.api import send_login_code
from loopmall.customers.hooks import me_counts
from loopmall.customers.mall_page import CustomerPage, customer_back_to, mall_customer
from loopmall.integrations.sms import SmsFailed
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import translator

router = APIRouter(include_in_schema=False)

# The phone forms come back, after a login, to the "me" page.
BACK_TO_ME = customer_back_to("/m/{slug}/me")


def consumer_login_phone_ok(phone: str) -> bool:
    return len(phone) == 11 and phone.isdigit() and phone.startswith("1")


def avatar_hue(public_id: str) -> int:
    return int(hashlib.sha256(public_id.encode()).hexdigest()[:4], 16) % 360


async def _me_page(
    page: CustomerPage,
    uow: UnitOfWork,
    *,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
    phone: str = "",
) -> Response:
    tenant = page.tenant
    customer = await consumer_service.get_customer(uow.session, tenant, page.customer.customer_id)
    # The badges other domains keep (customers.hooks): notifications registers "unread".
    counts = await me_counts(uow.session, tenant, customer.id)
    context: dict[str, Any] = {
        "customer": customer,
        "hue": avatar_hue(customer.public_id),
        "unread": counts.get("unread", 0),
        "error": None,
        "notice": notice,
        "phone": phone,
    }
    if error is None:
        return page.render("customers/me.html", context, tab="me")
    return page.render_refused(
        "customers/me.html", context, errors={"error": error}, status_code=status_code, tab="me"
    )


@router.get("/m/{slug}/me")
async def me(
    page: CustomerPage = Depends(mall_customer), uow: UnitOfWork = Depends(read_uow)
) -> Response:
    return await _me_page(page, uow)


@router.post("/m/{slug}/me/phone/code")
async def me_phone_code(
    phone: str = Form("", max_length=20),
    page: CustomerPage = Depends(BACK_TO_ME),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    request = page.request
    _ = translator(pick_locale(request))
    phone = phone.strip()
    if not consumer_login_phone_ok(phone):
        return await _me_page(
            page, uow, status_code=422, phone=phone,
            error=_("Enter an 11-digit mobile number."),
        )  # fmt: skip
    try:
        await send_login_code(request, uow, page.slug, phone)
    except consumer_login.SmsCodeTooSoon:
        return await _me_page(
            page, uow, status_code=429, phone=phone,
            error=_("A code was sent a moment ago. Wait a minute before asking again."),
        )  # fmt: skip
    except SmsFailed:
        return await _me_page(
            page, uow, status_code=502, phone=phone,
            error=_("The text message could not be sent. Try again later."),
        )  # fmt: skip
    return await _me_page(
        page, uow, phone=phone,
        notice=_("We texted a 6-digit code to %(phone)s.", phone=phone),
    )  # fmt: skip


@router.post("/m/{slug}/me/phone")
async def me_phone(
    phone: str = Form("", max_length=20),
    code: str = Form("", max_length=8),
    page: CustomerPage = Depends(BACK_TO_ME),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    shopper = page.customer
    _ = translator(pick_locale(page.request))
    phone = phone.strip()
    try:
        await consumer_login.bind_phone(
            uow.session, shopper.tenant, shopper.customer_id, phone, code,
            secret=get_state(page.request).settings.secret_key,
        )  # fmt: skip
    except consumer_login.InvalidSmsCode:
        await uow.commit()
        return await _me_page(
            page, uow, status_code=401, phone=phone,
            error=_("The code is wrong or has expired."),
        )  # fmt: skip
    await uow.commit()
    return RedirectResponse(f"/m/{shopper.tenant.slug}/me", status_code=303)
