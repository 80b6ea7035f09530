"""The events the inventory domain publishes.

Counts changed by staff (or an import, or the set-up of a flash sale) are announced here;
the units an order holds, consumes or gives back are told by the order's own events, except
when they make a SKU's free units at a location cross zero (``stock.availability_changed``:
the storefront shows "sold out" or "in stock" from the next request on).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from loopmall.core.events import Event


class StockAdjusted(Event):
    topic = "stock.adjusted"
    summary = (
        "A SKU's on-hand count at a location was changed by staff: goods received, "
        "an adjustment, or a stocktake count."
    )
    outward = True  # for the merchants' stock sync; nothing in-house needs it yet
    # A stock sync applies one SKU's changes in the order they happened.
    aggregate_field: ClassVar[str | None] = "sku_id"

    sku_id: int
    sku_public_id: str
    location_id: int
    location_public_id: str
    kind: str = Field(
        description="`receive` (goods arrived), `adjust` or `count` (a stocktake)",
        examples=["receive"],
    )
    delta: int = Field(description="the change of on hand: negative for units taken out")
    on_hand: int = Field(description="units at the location after the change", examples=[52])
    held: int = Field(description="of those, units held for customers", examples=[4])
    available: int = Field(description="on hand minus held", examples=[48])
    reason: str = Field(description="what staff wrote", examples=["supplier delivery #2291"])
    actor: str = Field(
        description="the staff member's public id, or `system`", examples=["stf_5v2k9q0x7mj3hd1c"]
    )


class StockAvailabilityChanged(Event):
    topic = "stock.availability_changed"
    summary = (
        "A SKU's free units at a location crossed zero: it sold out there (held or shipped "
        "to the last unit) or came back (a hold released or lapsed, goods received)."
    )
    outward = True
    aggregate_field: ClassVar[str | None] = "sku_id"

    sku_id: int
    location_id: int
    sold_out: bool = Field(description="true: no unit left free at the location")
    available: int = Field(description="free units at the location after the change")
