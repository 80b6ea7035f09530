"""``qr.scanned``: every scan of a channel's code is published in the transaction that
records it, naming the channel, its store and guide, and the customer when known — never
the device, address or anonymous visitor id. A scan of an unknown code publishes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from loopmall.core.events import Event
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import envelope_of
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.o2o.events import QrScanned
from loopmall.o2o.models import QrChannel, QrScan
from tests.o2o.world import World, create, make_world, page_login


async def published(state: AppState, topic: str) -> list[Event]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id)
        )
        return [envelope_of(row).event() for row in rows]


@pytest.fixture
async def world(state: AppState, client: httpx.AsyncClient) -> World:
    return await make_world(state, client)


@pytest.fixture
async def phone(app: Any) -> Any:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_each_scan_is_published_with_its_channel(
    state: AppState, client: httpx.AsyncClient, phone: httpx.AsyncClient, world: World
) -> None:
    code = await create(client, world.owner, {"kind": "guide", "guide": world.guide.public_id})
    assert (await phone.get("/q/zzzzzzzzzzzz")).status_code < 500
    assert await published(state, "qr.scanned") == []

    await phone.get(f"/q/{code['code']}")
    await page_login(phone, "vero", "阿明", "/m/vero/")
    await phone.get(f"/q/{code['code']}")

    async with UnitOfWork(state.read_factory) as uow:
        channel = await uow.session.scalar(select(QrChannel).where(QrChannel.code == code["code"]))
        assert channel is not None
        scans = (await uow.session.scalars(select(QrScan).order_by(QrScan.id))).all()
    customer = scans[1].customer_id
    assert customer is not None
    expected = [
        QrScanned(
            merchant_id=world.mall.tenant.id,
            scan_id=scan.id,
            channel_id=channel.id,
            channel_public_id=channel.public_id,
            code=channel.code,
            channel_kind="guide",
            store_id=channel.store_id,
            guide_staff_id=world.guide.staff_id,
            customer_id=who,
        )
        for scan, who in zip(scans, [None, customer], strict=True)
    ]
    assert await published(state, "qr.scanned") == expected
