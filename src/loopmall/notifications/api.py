"""Notifications over the API.

Shopper (``/api/v1/mall/{slug}/...``): the inbox, answers to subscribe prompts, the JS-SDK
``wx.config`` for a page. Staff: the merchant's WeChat account and templates per order
step. WeChat: the service account's server URL (``/api/v1/wechat/events/{app}``), where
WeChat pushes follow / unfollow events.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from loopmall.config import Settings
from loopmall.core.errors import Forbidden, NotFound, ValidationFailed
from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.uow import UnitOfWork
from loopmall.customers.deps import Shopper, require_shopper
from loopmall.customers.login import oa_client, primary_app
from loopmall.customers.models import Customer, WechatApp
from loopmall.customers.service import add_wechat_app
from loopmall.identity.deps import require
from loopmall.identity.guards import SIGNED
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.notifications import inbox, setup

router = APIRouter(tags=["notifications"])


class InboxItem(BaseModel):
    id: str
    topic: str
    data: dict[str, Any]
    link: str
    created_at: datetime
    read: bool


class InboxOut(BaseModel):
    unread: int
    items: list[InboxItem]


class ConsentsIn(BaseModel):
    results: dict[str, str] = Field(description='{"<template_id>": "accept" | "reject"}')


class ConsentOut(BaseModel):
    template_id: str
    remaining: int
    long_term: bool


class TemplateIn(BaseModel):
    template_id: str = Field(min_length=1, max_length=128)
    fields: dict[str, str]
    enabled: bool = True


class TemplateOut(BaseModel):
    id: str
    topic: str
    channel: str
    template_id: str
    fields: dict[str, str]
    enabled: bool


class WechatAppIn(BaseModel):
    appid: str = Field(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9_]+$")
    secret: str = Field(min_length=8, max_length=128)
    open_platform_id: str | None = Field(None, max_length=64)
    name: str = Field("", max_length=100)


class WechatAppOut(BaseModel):
    id: str
    appid: str
    name: str
    open_platform_id: str | None
    server_url: str
    server_token: str


def server_token(settings: Settings, appid: str) -> str:
    """The token the merchant enters in WeChat's server settings (服务器配置)."""
    return hmac.new(
        settings.secret_key.encode(), f"wechat-server:{appid}".encode(), "sha256"
    ).hexdigest()[:32]


def _app_out(settings: Settings, app: WechatApp) -> WechatAppOut:
    return WechatAppOut(
        id=app.public_id,
        appid=app.appid,
        name=app.name,
        open_platform_id=app.open_platform_id,
        server_url=f"{settings.base_url.rstrip('/')}/api/v1/wechat/events/{app.public_id}",
        server_token=server_token(settings, app.appid),
    )


# --- the shopper ------------------------------------------------------------------------


@router.get("/mall/{slug}/inbox", response_model=InboxOut)
async def get_inbox(
    slug: str, shopper: Shopper = Depends(require_shopper), uow: UnitOfWork = Depends(read_uow)
) -> InboxOut:
    """The shopper's inbox, newest first, with the unread count."""
    rows = await inbox.list_inbox(uow.session, shopper.tenant, shopper.customer_id)
    return InboxOut(
        unread=await inbox.unread_count(uow.session, shopper.tenant, shopper.customer_id),
        items=[
            InboxItem(
                id=r.public_id,
                topic=r.topic,
                data=r.data,
                link=r.link,
                created_at=r.created_at,
                read=r.read_at is not None,
            )
            for r in rows
        ],
    )


@router.post("/mall/{slug}/inbox/{message_id}/read", status_code=204)
async def read_message(
    slug: str,
    message_id: str,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    await inbox.mark_read(uow.session, shopper.tenant, shopper.customer_id, message_id)
    await uow.commit()
    return Response(status_code=204)


@router.post("/mall/{slug}/notifications/consents", response_model=list[ConsentOut])
async def consents(
    slug: str,
    body: ConsentsIn,
    request: Request,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> list[ConsentOut]:
    """Report the answers of a ``wx-open-subscribe`` prompt (its ``subscribeDetails``)."""
    rows = await setup.record_consents(
        uow.session, shopper.tenant, shopper.customer_id, body.results
    )
    await uow.commit()
    return [
        ConsentOut(template_id=r.template_id, remaining=r.remaining, long_term=r.long_term)
        for r in rows
    ]


@router.get("/mall/{slug}/wechat/jssdk-config")
async def jssdk_config(
    slug: str,
    url: str,
    request: Request,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(read_uow),
) -> dict[str, Any]:
    """``wx.config`` arguments for the page at ``url`` (this site's pages only)."""
    settings = get_state(request).settings
    if not url.startswith(settings.base_url.rstrip("/") + "/"):
        raise ValidationFailed("url must be a page of this site")
    app = await primary_app(uow.session, shopper.tenant)
    if app is None:
        raise NotFound("This mall has no WeChat account")
    config = await oa_client(settings, app).jssdk_config(
        url, noncestr=secrets.token_hex(8), timestamp=int(time.time())
    )
    config["jsApiList"] = ["updateAppMessageShareData", "chooseWXPay"]
    config["openTagList"] = ["wx-open-subscribe"]
    config["subscribeTemplates"] = await setup.subscribe_template_ids(uow.session, shopper.tenant)
    return config


# --- staff ------------------------------------------------------------------------------


@router.post("/wechat/apps", response_model=WechatAppOut, status_code=201)
async def connect_wechat_app(
    body: WechatAppIn,
    request: Request,
    principal: Principal = Depends(require(Perm.SETTINGS_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> WechatAppOut:
    """Connect the merchant's WeChat service account (login, messages, JS-SDK)."""
    tenant = principal.require_tenant()
    existing = await uow.session.scalar(select(WechatApp.id).where(WechatApp.appid == body.appid))
    if existing is not None:
        raise ValidationFailed("This WeChat account is already connected", field="appid")
    has_primary = await primary_app(uow.session, tenant)
    app = await add_wechat_app(
        uow.session,
        tenant,
        appid=body.appid,
        secret=body.secret,
        open_platform_id=body.open_platform_id,
        name=body.name,
        primary=has_primary is None,
    )
    await uow.commit()
    return _app_out(get_state(request).settings, app)


@router.get("/wechat/apps", response_model=list[WechatAppOut])
async def list_wechat_apps(
    request: Request,
    principal: Principal = Depends(require(Perm.SETTINGS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> list[WechatAppOut]:
    tenant = principal.require_tenant()
    rows = (await uow.session.scalars(scoped(WechatApp, tenant).order_by(WechatApp.id))).all()
    return [_app_out(get_state(request).settings, a) for a in rows]


@router.put("/notifications/templates/{topic}/{channel}", response_model=TemplateOut)
async def put_template(
    topic: str,
    channel: str,
    body: TemplateIn,
    principal: Principal = Depends(require(Perm.SETTINGS_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> TemplateOut:
    """Which WeChat template announces an order step (``fields``: keyword → fill)."""
    row = await setup.set_template(
        uow.session,
        principal.require_tenant(),
        topic=topic,
        channel=channel,
        template_id=body.template_id,
        fields=body.fields,
        enabled=body.enabled,
    )
    await uow.commit()
    return TemplateOut(
        id=row.public_id,
        topic=row.topic,
        channel=row.channel,
        template_id=row.template_id,
        fields=row.fields,
        enabled=row.enabled,
    )


@router.get("/notifications/templates", response_model=list[TemplateOut])
async def get_templates(
    principal: Principal = Depends(require(Perm.SETTINGS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> list[TemplateOut]:
    rows = await setup.list_templates(uow.session, principal.require_tenant())
    return [
        TemplateOut(
            id=r.public_id,
            topic=r.topic,
            channel=r.channel,
            template_id=r.template_id,
            fields=r.fields,
            enabled=r.enabled,
        )
        for r in rows
    ]


# --- WeChat's pushes to the service account's server URL --------------------------------


def _check_signature(token: str, request: Request) -> None:
    q = request.query_params
    parts = sorted([token, q.get("timestamp", ""), q.get("nonce", "")])
    expected = hashlib.sha1("".join(parts).encode()).hexdigest()  # noqa: S324 - WeChat's scheme
    if not hmac.compare_digest(expected, q.get("signature", "")):
        raise Forbidden("Bad WeChat signature")


async def _app_by_public_id(uow: UnitOfWork, app_public_id: str) -> WechatApp:
    app = await uow.session.scalar(select(WechatApp).where(WechatApp.public_id == app_public_id))
    if app is None:
        raise NotFound("No such WeChat account")
    return app


@router.get("/wechat/events/{app_public_id}", include_in_schema=False, dependencies=[SIGNED])
async def verify_server(
    app_public_id: str, request: Request, uow: UnitOfWork = Depends(read_uow)
) -> Response:
    """WeChat's server-URL check: answer ``echostr`` when the signature is right."""
    app = await _app_by_public_id(uow, app_public_id)
    _check_signature(server_token(get_state(request).settings, app.appid), request)
    return Response(request.query_params.get("echostr", ""), media_type="text/plain")


@router.post("/wechat/events/{app_public_id}", include_in_schema=False, dependencies=[SIGNED])
async def wechat_event(
    app_public_id: str, request: Request, uow: UnitOfWork = Depends(write_uow)
) -> Response:
    """Follow / unfollow events set ``Customer.followed``; anything else is acknowledged."""
    app = await _app_by_public_id(uow, app_public_id)
    _check_signature(server_token(get_state(request).settings, app.appid), request)
    raw = await request.body()
    if len(raw) > 64 * 1024:
        raise ValidationFailed("too large")
    try:
        root = ET.fromstring(raw)  # noqa: S314 - see the import
    except ET.ParseError as exc:
        raise ValidationFailed("not XML") from exc
    event = (root.findtext("Event") or "").lower()
    openid = root.findtext("FromUserName") or ""
    if root.findtext("MsgType") == "event" and event in ("subscribe", "unsubscribe") and openid:
        tenant = Tenant(app.merchant_id, "")
        customer = await uow.session.scalar(
            scoped(Customer, tenant, Customer.appid == app.appid, Customer.openid == openid)
        )
        if customer is not None:
            await setup.set_followed(uow.session, tenant, customer, event == "subscribe")
            await uow.commit()
    return Response("success", media_type="text/plain")
