"""``stock.adjusted``: published with the change of on-hand stock, in its transaction — a
receipt, an adjustment or a stocktake that changed the count; nothing for a refused change,
a rolled-back one, or a count that confirms the number."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import envelope_of
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.inventory import locations, service
from loopmall.inventory.events import StockAdjusted
from loopmall.inventory.rules import InsufficientStock
from tests.factories import make_merchant
from tests.inventory.fixtures import make_skus


async def published(state: AppState) -> list[StockAdjusted]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.topic == "stock.adjusted")
            .order_by(OutboxEvent.id)
        )
        found = [envelope_of(row).event() for row in rows]
    assert all(isinstance(e, StockAdjusted) for e in found)
    return found  # type: ignore[return-value]


async def test_each_change_of_on_hand_is_published_once_with_its_numbers(state: AppState) -> None:
    tenant = await make_merchant(state)
    (sku,) = await make_skus(state, tenant)
    async with UnitOfWork(state.write_factory) as uow:
        online = await locations.default_warehouse(uow.session, tenant)
        await uow.commit()

    async def change(work, *, commit: bool = True):
        async with UnitOfWork(state.write_factory) as uow:
            result = await work(uow.session)
            if commit:
                await uow.commit()
            return result

    await change(
        lambda s: service.adjust_stock(
            s,
            tenant,
            sku_id=sku.id,
            location_id=online.id,
            delta=10,
            reason="supplier delivery",
            actor="stf_0000000000000001",
            kind="receive",
        )
    )
    # Rolled back (no commit) and refused changes announce nothing.
    await change(
        lambda s: service.adjust_stock(
            s,
            tenant,
            sku_id=sku.id,
            location_id=online.id,
            delta=-2,
            reason="lost",
            actor="system",
        ),
        commit=False,
    )
    with pytest.raises(InsufficientStock):
        await change(
            lambda s: service.adjust_stock(
                s,
                tenant,
                sku_id=sku.id,
                location_id=online.id,
                delta=-11,
                reason="x",
                actor="system",
            )
        )
    await change(
        lambda s: service.set_stock(
            s,
            tenant,
            sku_id=sku.id,
            location_id=online.id,
            on_hand=7,
            reason="stocktake",
            actor="stf_0000000000000001",
        )
    )
    await change(  # the count confirms the number: nothing changed
        lambda s: service.set_stock(
            s,
            tenant,
            sku_id=sku.id,
            location_id=online.id,
            on_hand=7,
            reason="again",
            actor="stf_0000000000000001",
        )
    )

    received, counted = await published(state)
    assert received == StockAdjusted(
        merchant_id=tenant.id,
        sku_id=sku.id,
        sku_public_id=sku.public_id,
        location_id=online.id,
        location_public_id=online.public_id,
        kind="receive",
        delta=10,
        on_hand=10,
        held=0,
        available=10,
        reason="supplier delivery",
        actor="stf_0000000000000001",
    )
    assert (counted.kind, counted.delta, counted.on_hand, counted.available) == ("count", -3, 7, 7)
    assert counted.aggregate == f"sku:{sku.id}"
