"""The events the attribution domain publishes."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from loopmall.core.events import Event


class CreditedShare(BaseModel):
    """One party credited with an order: the store, the guide, or a sharer (level 1 or 2)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    credit_id: int
    role: str
    store_id: int | None = None
    guide_staff_id: int | None = None
    sharer_customer_id: int | None = None
    channel_id: int | None = None
    share_id: int | None = None
    # Which attribution rule gave the credit (e.g. last_touch, binding, payment_code).
    rule: str = ""


class AttributionCredited(Event):
    topic = "attribution.credited"
    summary = "An order's sale was credited to its store, guide and sharers."
    aggregate_field: ClassVar[str | None] = "order_id"
    order_id: int
    order_public_id: str
    customer_id: int | None
    amount_fen: int
    credits: list[CreditedShare]
