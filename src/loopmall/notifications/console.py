"""``/console/wechat``: the merchant connects its WeChat service account (login, messages,
JS-SDK), reads the server URL and token to enter in WeChat's settings, chooses the WeChat
template for each order step, and sees how the last week's notifications went."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from loopmall.core import clock
from loopmall.core.errors import ValidationFailed
from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.customers.login import primary_app
from loopmall.customers.models import WechatApp
from loopmall.customers.service import add_wechat_app
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.notifications import setup
from loopmall.notifications.api import server_token
from loopmall.notifications.compose import ORDER_TOPICS
from loopmall.notifications.models import Notification
from loopmall.notifications.service import CHANNELS, SUBSCRIBE, TEMPLATE
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter(include_in_schema=False)


def step_names(request: Request) -> dict[str, str]:
    _ = translator(pick_locale(request))
    return {
        "order.created": _("Order placed"),
        "order.paid": _("Payment received"),
        "order.shipped": _("Order shipped"),
        "order.ready_for_pickup": _("Ready for pickup"),
        "order.completed": _("Order completed"),
        "order.cancelled": _("Order cancelled"),
        "order.refunded": _("Refund issued"),
    }


def channel_names(request: Request) -> dict[str, str]:
    _ = translator(pick_locale(request))
    return {
        SUBSCRIBE: _("Subscribe message"),
        TEMPLATE: _("Template message"),
        "sms": _("Text message"),
    }


def parse_fields(text: str) -> dict[str, str]:
    """``keyword=fill`` per line (``character_string1=number``)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValidationFailed(f"not keyword=fill: {line.strip()[:40]}")
        fields[key.strip()[:40]] = value.strip()
    return fields


async def _page(
    request: Request,
    uow: UnitOfWork,
    principal: Principal,
    *,
    status_code: int = 200,
    error: str | None = None,
    flash: str | None = None,
) -> Response:
    tenant = principal.require_tenant()
    settings = get_state(request).settings
    app = await primary_app(uow.session, tenant)
    since = clock.now() - timedelta(days=7)
    counts = (
        await uow.session.execute(
            select(Notification.channel, Notification.status, func.count())
            .where(Notification.merchant_id == tenant.id, Notification.created_at >= since)
            .group_by(Notification.channel, Notification.status)
        )
    ).all()
    delivery: dict[str, dict[str, int]] = {c: {} for c in CHANNELS}
    for channel, status, n in counts:
        delivery.setdefault(channel, {})[status] = int(n)
    context: dict[str, Any] = {
        "app": app,
        "server_url": (
            f"{settings.base_url.rstrip('/')}/api/v1/wechat/events/{app.public_id}" if app else ""
        ),
        "server_token": server_token(settings, app.appid) if app else "",
        "templates": await setup.list_templates(uow.session, tenant),
        "steps": step_names(request),
        "channels": channel_names(request),
        "topics": ORDER_TOPICS,
        "delivery": delivery,
        "can_write": principal.can(Perm.SETTINGS_WRITE),
        "error": error,
        "flash": flash,
        "flash_kind": "ok",
    }
    return render(request, "notifications/console.html", context, status_code=status_code)


@router.get("/console/wechat")
async def wechat_page(
    request: Request,
    principal: Principal = Depends(require(Perm.SETTINGS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    _ = translator(pick_locale(request))
    flash = _("Saved.") if request.query_params.get("saved") else None
    return await _page(request, uow, principal, flash=flash)


@router.post("/console/wechat/app")
async def connect_app(
    request: Request,
    appid: str = Form("", max_length=64),
    secret: str = Form("", max_length=128),
    open_platform_id: str = Form("", max_length=64),
    name: str = Form("", max_length=100),
    principal: Principal = Depends(require(Perm.SETTINGS_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    _ = translator(pick_locale(request))
    tenant = principal.require_tenant()
    appid, secret = appid.strip(), secret.strip()
    error = None
    if not appid.isascii() or not appid.replace("_", "").isalnum() or len(secret) < 8:
        error = _("Enter the AppID and AppSecret from WeChat's developer settings.")
    elif await primary_app(uow.session, tenant) is not None:
        error = _("A service account is already connected.")
    elif await uow.session.scalar(select(WechatApp.id).where(WechatApp.appid == appid)):
        error = _("This service account is connected to another merchant.")
    if error:
        return await _page(request, uow, principal, status_code=422, error=error)
    await add_wechat_app(
        uow.session,
        tenant,
        appid=appid,
        secret=secret,
        open_platform_id=open_platform_id.strip() or None,
        name=name.strip(),
    )
    await uow.commit()
    return RedirectResponse("/console/wechat?saved=1", status_code=303)


@router.post("/console/wechat/templates")
async def save_template(
    request: Request,
    topic: str = Form(""),
    channel: str = Form(""),
    template_id: str = Form("", max_length=128),
    fields: str = Form("", max_length=2000),
    enabled: str = Form(""),
    principal: Principal = Depends(require(Perm.SETTINGS_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    _ = translator(pick_locale(request))
    try:
        if not template_id.strip():
            raise ValidationFailed("template id")
        await setup.set_template(
            uow.session,
            principal.require_tenant(),
            topic=topic,
            channel=channel,
            template_id=template_id.strip(),
            fields=parse_fields(fields),
            enabled=bool(enabled),
        )
    except ValidationFailed:
        await uow.rollback()
        return await _page(
            request,
            uow,
            principal,
            status_code=422,
            error=_(
                "Enter the template ID and one keyword=fill per line; fills are number, "
                "amount, refund, status, time, pickup_code or mall."
            ),
        )
    await uow.commit()
    return RedirectResponse("/console/wechat?saved=1", status_code=303)
