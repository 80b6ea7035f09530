"""The events the flash-sale domain publishes.

Only the sale's own life is announced, never one event per buyer: the sale must stay fast,
and each order it makes is already announced by ``order.created``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from loopmall.core.events import Event


class FlashSaleScheduled(Event):
    topic = "flashsale.scheduled"
    summary = (
        "A flash sale was set up: its stock set aside, its reservation window and sale time "
        "fixed (it starts and ends by the clock, with no further event)."
    )
    outward = True

    sale_id: int
    sale_public_id: str
    title: str = Field(examples=["Wool coat, 50% off"])
    sku_id: int
    sku_public_id: str
    price_fen: int = Field(description="the sale price", examples=[12900])
    list_fen: int = Field(description="the SKU's usual price", examples=[25800])
    stock: int = Field(description="units set aside for the sale", examples=[200])
    per_person_limit: int = Field(examples=[1])
    reserve_from: datetime
    reserve_until: datetime
    starts_at: datetime
    ends_at: datetime
