"""The chat live: real app processes' servers (uvicorn in threads) on the test database,
WebSocket clients for the customer and the guide; fan-out in one process, and across two
app instances through Redis pub/sub."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from loopmall.app import create_app
from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import cookie_name
from loopmall.identity.service import open_session
from loopmall.staff.models import Staff
from tests.browser.conftest import free_port
from tests.guides.fixtures import World, make_world

TIMEOUT = 30.0  # generous: the test machine may be loaded (a frame normally takes ms)


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on a free port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


async def staff_cookie(state: AppState, staff_id: int) -> str:
    async with UnitOfWork(state.write_factory) as uow:
        staff = await uow.session.get(Staff, staff_id)
        token, _row = await open_session(uow.session, kind="cookie", ttl_seconds=3600, staff=staff)
        await uow.commit()
    return f"{state.settings.session_cookie}={token}"


def shopper_cookie(settings: Settings, world: World) -> str:
    token = world.shopper["Authorization"].removeprefix("Bearer ")
    return f"{cookie_name(settings, 'vero')}={token}"


async def next_frame(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next frame of this type (the sockets also hear their own side's messages)."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if frame["type"] == kind:
            return frame


async def next_message(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = (await next_frame(ws, "message"))["message"]
    return message


async def _open_chat(client: httpx.AsyncClient, world: World) -> str:
    opened = await client.post(
        "/api/v1/mall/vero/chat", json={"guide": world.guide.public_id}, headers=world.shopper
    )
    conversation: str = opened.json()["id"]
    return conversation


async def _talk(
    state: AppState,
    world: World,
    conversation: str,
    customer_host: str,
    guide_host: str,
) -> None:
    """The customer writes on one server, the guide answers on another (or the same)."""
    guide_cookie = await staff_cookie(state, world.guide.staff_id)
    customer_cookie = shopper_cookie(state.settings, world)
    async with (
        connect(
            f"ws://{customer_host}/m/vero/chat/ws", additional_headers={"Cookie": customer_cookie}
        ) as customer,
        connect(
            f"ws://{guide_host}/guide/ws", additional_headers={"Cookie": guide_cookie}
        ) as guide,
    ):
        for ws in (customer, guide):  # both sockets are subscribed once they answer a ping
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)) == {"type": "pong"}
        await customer.send(json.dumps({"type": "text", "body": "想要一条黑色连衣裙，M码"}))
        heard = await next_message(guide)
        assert (heard["conversation"], heard["sender"], heard["body"]) == (
            conversation,
            "customer",
            "想要一条黑色连衣裙，M码",
        )
        assert (await next_message(customer))["id"] == heard["id"]  # the sender's echo
        async with httpx.AsyncClient(base_url=f"http://{guide_host}") as http:
            answer = await http.post(
                f"/api/v1/guides/conversations/{conversation}/messages",
                json={"kind": "text", "body": "有的，给您推荐几款"},
                headers=world.guide_headers,
            )
        assert answer.status_code == 201, answer.text
        got = await next_message(customer)
        assert (got["id"], got["sender"], got["body"]) == (
            answer.json()["id"],
            "guide",
            "有的，给您推荐几款",
        )
        # A bad frame is answered with an error, and the socket stays open.
        await guide.send(json.dumps({"type": "text", "conversation": "cnv_nope", "body": "x"}))
        error = await next_frame(guide, "error")
        assert (error["type"], error["code"]) == ("error", "not_found")


async def test_the_guide_hears_the_customer_live_and_answers(
    state: AppState, client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await make_world(state, client)
    conversation = await _open_chat(client, world)
    with serve(settings) as host:
        await _talk(state, world, conversation, host, host)


async def test_two_app_instances_sharing_redis_deliver_to_each_other(
    state: AppState,
    client: httpx.AsyncClient,
    settings: Settings,
    redis_url: str,
    redis_prefix: str,
) -> None:
    world = await make_world(state, client)
    conversation = await _open_chat(client, world)
    shared = settings.model_copy(update={"redis_url": redis_url, "redis_prefix": redis_prefix})
    with serve(shared) as first, serve(shared) as second:
        await _talk(state, world, conversation, customer_host=first, guide_host=second)


async def test_sockets_without_a_session_or_from_another_site_are_refused(
    state: AppState, client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await make_world(state, client)
    guide_cookie = await staff_cookie(state, world.guide.staff_id)
    cashier_cookie = await staff_cookie(state, world.cashier.staff_id)
    with serve(settings) as host:
        for path, headers, origin in (
            ("/guide/ws", {}, None),
            ("/m/vero/chat/ws", {}, None),
            ("/guide/ws", {"Cookie": cashier_cookie}, None),  # no GUIDE_WORK
            ("/guide/ws", {"Cookie": guide_cookie}, "http://evil.example"),
            ("/m/nosuchmall/chat/ws", {"Cookie": shopper_cookie(settings, world)}, None),
        ):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://{host}{path}", additional_headers=headers, origin=origin):  # type: ignore[arg-type]
                    pass
            assert refused.value.response.status_code == 403
