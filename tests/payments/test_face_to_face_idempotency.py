"""Face-to-face payments by a store's code and Idempotency-Key (issue #11, case 18): an
anonymous payer's keys are theirs alone — the device's visitor cookie — so two passers-by
sending the same key get two orders, and one payer retrying gets one. On both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.payments.conftest import World

BODY = {"amount_fen": 25_00, "method": "wechat_native"}


@pytest.fixture
async def passer_by(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A second phone: the same app, its own cookies."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _pay(client: httpx.AsyncClient, world: World, key: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/mall/{world.tenant.slug}/codes/{world.code}/payments",
        json=BODY,
        headers={"Idempotency-Key": key},
    )


async def test_two_passers_by_with_one_key_get_two_orders(
    world: World, passer_by: httpx.AsyncClient
) -> None:
    first = await _pay(world.client, world, "pay-1")
    second = await _pay(passer_by, world, "pay-1")

    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert second.headers.get("Idempotent-Replayed") is None
    assert first.json()["order"] != second.json()["order"]
    assert first.json()["payment"] != second.json()["payment"]
    visitor = world.state.settings.visitor_cookie
    assert world.client.cookies[visitor] != passer_by.cookies[visitor]


async def test_one_payer_retrying_gets_one_order(world: World) -> None:
    first = await _pay(world.client, world, "pay-1")
    retried = await _pay(world.client, world, "pay-1")

    assert (first.status_code, retried.status_code) == (201, 201)
    assert retried.json()["order"] == first.json()["order"]
    assert retried.json()["payment"] == first.json()["payment"]


async def test_a_scanned_devices_visitor_cookie_is_its_scope(
    world: World, passer_by: httpx.AsyncClient
) -> None:
    """A device that scanned a QR code already has its visitor id: that is its scope, and a
    device with another id does not share it."""
    cookie = world.state.settings.visitor_cookie
    world.client.cookies.set(cookie, "v_" + "a" * 24)
    passer_by.cookies.set(cookie, "v_" + "b" * 24)

    mine = await _pay(world.client, world, "same")
    again = await _pay(world.client, world, "same")
    theirs = await _pay(passer_by, world, "same")

    assert again.json()["order"] == mine.json()["order"]
    assert theirs.json()["order"] != mine.json()["order"]
    assert "set-cookie" not in mine.headers  # the device keeps the id it has


async def test_the_code_page_gives_the_device_its_scope_before_it_pays(world: World) -> None:
    """A retry of a first answer that never arrived (so neither did any cookie on it) still
    replays: the device got its visitor id from the code page it paid on."""
    page = await world.client.get(f"/m/{world.tenant.slug}/qr/{world.code}")
    assert page.status_code == 200
    cookie = world.state.settings.visitor_cookie
    visitor = world.client.cookies[cookie]

    first = await _pay(world.client, world, "lost-1")
    retried = await _pay(world.client, world, "lost-1")

    assert "set-cookie" not in first.headers
    assert retried.json()["order"] == first.json()["order"]
    assert world.client.cookies[cookie] == visitor
