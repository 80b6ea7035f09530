"""The chat's WebSockets: ``/guide/ws`` for a guide (staff session cookie) and
``/m/{slug}/chat/ws`` for a shopper (the mall's cookie).

A socket hears every message of its side (``guides.hub``) and may send text: a frame
``{"type": "text", "body": "…", "conversation": "cnv_…"}`` (the shopper may leave out
``conversation``; ``{"type": "pick", "pick": "msg_…"}`` taps a card). Each sent message is
stored and committed first, then fanned out; the sender gets it back like everyone else.
An error comes back as ``{"type": "error", "code": …, "detail": …}``; the socket stays.
Cross-site sockets are refused (the ``Origin`` must be this site: cookies alone would let
another page talk as the user).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from loopmall.core.errors import LoopmallError
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers import service as consumer_service
from loopmall.customers.deps import Shopper
from loopmall.guides import chat
from loopmall.guides.api_mall import customer_says
from loopmall.guides.delivery import deliver
from loopmall.guides.hub import customer_topic, guide_topic, hub_of
from loopmall.guides.rules import MessageKind, Sender
from loopmall.guides.schemas import GuideMessageIn, ShopperMessageIn, message_out
from loopmall.identity import service
from loopmall.identity.guards import declared
from loopmall.identity.permissions import Audience, Perm
from loopmall.identity.principal import Principal

router = APIRouter(include_in_schema=False)

POLICY_VIOLATION = 1008


def _same_origin(ws: WebSocket) -> bool:
    origin = ws.headers.get("origin")
    if not origin:
        return True  # not a browser: cookies were not sent on someone else's behalf
    return urlsplit(origin).netloc == ws.headers.get("host", "")


def _state(ws: WebSocket) -> AppState:
    state: AppState = ws.app.state.loopmall
    return state


async def _staff(ws: WebSocket) -> Principal | None:
    state = _state(ws)
    cookie = ws.cookies.get(state.settings.session_cookie)
    if not cookie:
        return None
    async with UnitOfWork(state.read_factory) as uow:
        principal = await service.resolve_token(uow.session, cookie, via="cookie")
    if principal is None or principal.tenant is None or not principal.can(Perm.GUIDE_WORK):
        return None
    return principal


async def _shopper(ws: WebSocket, slug: str) -> Shopper | None:
    state = _state(ws)
    token = ws.cookies.get(consumer_service.cookie_name(state.settings, slug))
    if not token:
        return None
    async with UnitOfWork(state.read_factory) as uow:
        try:
            tenant = await consumer_service.tenant_for_slug(uow.session, slug)
        except LoopmallError:
            return None
        found = await consumer_service.resolve_token(uow.session, tenant, token)
    if found is None:
        return None
    return Shopper(
        tenant=tenant,
        consumer_id=found.consumer_id,
        customer_id=found.customer_id,
        customer_public_id=found.customer_public_id,
        display_name=found.display_name,
        csrf_token=found.csrf_token,
        via="cookie",
        openid=found.openid,
    )


async def _pump(ws: WebSocket, queue: asyncio.Queue[dict[str, Any]]) -> None:
    while True:
        await ws.send_json(await queue.get())


async def _serve(ws: WebSocket, topic: str, handle: Any) -> None:
    """Forward the hub's messages for ``topic`` while reading the client's frames."""
    hub = hub_of(_state(ws))
    queue = await hub.subscribe(topic)
    await ws.accept()
    pump = asyncio.create_task(_pump(ws, queue))
    try:
        while True:
            frame = await ws.receive_json()
            if not isinstance(frame, dict) or frame.get("type") == "ping":
                await ws.send_json({"type": "pong"})
                continue
            try:
                await handle(frame)
            except (LoopmallError, ValidationError) as exc:
                code = exc.code if isinstance(exc, LoopmallError) else "validation_failed"
                await ws.send_json({"type": "error", "code": code, "detail": str(exc)[:300]})
    except (WebSocketDisconnect, ValueError, RuntimeError):
        pass
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
        await hub.unsubscribe(queue)


@router.websocket("/guide/ws", dependencies=[declared(Perm.GUIDE_WORK)])
async def guide_socket(ws: WebSocket) -> None:
    principal = await _staff(ws) if _same_origin(ws) else None
    if principal is None:
        await ws.close(code=POLICY_VIOLATION)
        return
    tenant = principal.require_tenant()
    state = _state(ws)
    scope: dict[str, Any] = (
        {"guide_staff_id": principal.staff_id}
        if principal.role == "guide"
        else {"store_ids": principal.store_ids}
    )

    async def handle(frame: dict[str, Any]) -> None:
        conversation_id = str(frame.get("conversation") or "")[:40]
        data = GuideMessageIn(kind="text", body=str(frame.get("body") or ""))
        async with UnitOfWork(state.write_factory) as uow:
            found = await chat.get_conversation(uow.session, tenant, conversation_id, **scope)
            message = await chat.post(
                uow.session,
                tenant,
                found,
                sender=Sender.GUIDE,
                kind=MessageKind.TEXT,
                body=chat.clean_body(data.body),
                staff_id=principal.staff_id,
            )
            out = message_out(message, found)
            await uow.commit()
        await deliver(state, tenant, found, out)

    assert principal.staff_id is not None
    await _serve(ws, guide_topic(tenant.id, principal.staff_id), handle)


@router.websocket("/m/{slug}/chat/ws", dependencies=[declared(Audience.SHOPPER)])
async def shopper_socket(ws: WebSocket, slug: str) -> None:
    shopper = await _shopper(ws, slug[:64].lower()) if _same_origin(ws) else None
    if shopper is None:
        await ws.close(code=POLICY_VIOLATION)
        return
    state = _state(ws)
    tenant: Tenant = shopper.tenant

    async def handle(frame: dict[str, Any]) -> None:
        data = ShopperMessageIn(
            conversation=frame.get("conversation") or None,
            body=str(frame.get("body") or ""),
            pick=frame.get("pick") or None,
        )
        async with UnitOfWork(state.write_factory) as uow:
            found, out = await customer_says(uow.session, shopper, data)
            await uow.commit()
        await deliver(state, tenant, found, out)

    await _serve(ws, customer_topic(tenant.id, shopper.customer_id), handle)
