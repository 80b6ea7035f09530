"""``flashsale.scheduled``: published once with the sale's set-up, in its transaction; the
stock it sets aside is told as two ``stock.adjusted`` (out of the online warehouse, into the
sale's own location). Buying publishes no flash-sale event: each order is ``order.created``."""

from __future__ import annotations

from sqlalchemy import select

from loopmall.core.events import Event
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import envelope_of
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale.events import FlashSaleScheduled
from loopmall.flashsale.models import FlashSale
from loopmall.inventory.events import StockAdjusted
from tests.flashsale.fixtures import PRICE, make_sale


async def published(state: AppState, topic: str) -> list[Event]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id)
        )
        return [envelope_of(row).event() for row in rows]


async def test_a_sale_set_up_is_published_with_its_times_and_stock(state: AppState) -> None:
    sale = await make_sale(state, units=5, online_units=20)

    async with UnitOfWork(state.read_factory) as uow:
        row = await uow.session.get(FlashSale, sale.id)
        assert row is not None
    assert await published(state, "flashsale.scheduled") == [
        FlashSaleScheduled(
            merchant_id=sale.tenant.id,
            sale_id=sale.id,
            sale_public_id=sale.public_id,
            title="小米手机 微信专享",
            sku_id=sale.sku_id,
            sku_public_id=sale.shop.skus[0].public_id,
            price_fen=PRICE,
            list_fen=row.list_fen,
            stock=5,
            per_person_limit=1,
            reserve_from=row.reserve_from,
            reserve_until=row.reserve_until,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
        )
    ]
    moved = [e for e in await published(state, "stock.adjusted") if e.sku_id == sale.sku_id]  # type: ignore[attr-defined]
    assert all(isinstance(e, StockAdjusted) for e in moved)
    assert [(e.kind, e.delta, e.actor) for e in moved][-2:] == [  # type: ignore[attr-defined]
        ("adjust", -5, "system"),
        ("receive", 5, "system"),
    ]
    assert moved[-1].location_id == sale.location_id  # type: ignore[attr-defined]
