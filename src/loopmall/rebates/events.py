"""The events the rebates domain publishes: a commission earned or clawed back (one event per
ledger line), and a settlement made."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from loopmall.core.events import Event


class CommissionEvent(Event):
    """What every commission booking says: whose, on which order, how much."""

    # One order's bookings in the order they were made (an earning before its claw-back).
    aggregate_field: ClassVar[str | None] = "order_id"

    entry_id: int
    entry_public_id: str
    order_id: int
    order_public_id: str
    earner_kind: str = Field(description="`store`, `staff` or `customer`", examples=["staff"])
    earner_id: int = Field(description="the store's, staff member's or customer's id")
    store_id: int | None
    role: str = Field(
        description="the credit's role: `store`, `guide`, `sharer`, `upstream_sharer`",
        examples=["guide"],
    )
    rate_bp: int = Field(description="the rate in basis points (500 = 5%)")


class CommissionEarned(CommissionEvent):
    topic = "commission.earned"
    summary = "A commission was booked for a store, a guide or a sharer on a credited order."
    outward = True
    base_fen: int = Field(description="the order amount the rate applied to", examples=[25800])
    amount_fen: int = Field(description="the commission", examples=[1290])


class CommissionClawedBack(CommissionEvent):
    topic = "commission.clawed_back"
    summary = "Part or all of an earned commission was taken back after a refund."
    outward = True
    earning_public_id: str = Field(
        description="the earning this takes from", examples=["ce_8m2x0d4kq7ra9v1b"]
    )
    refunded_fen: int = Field(description="the order's refunds so far", examples=[9900])
    amount_fen: int = Field(description="the amount taken back (positive)", examples=[495])


class CommissionSettled(Event):
    topic = "commission.settled"
    summary = "A settlement period was closed: its commission lines were totalled per earner."
    outward = True

    settlement_id: int
    settlement_public_id: str
    period_start: datetime | None = Field(description="the previous period's end; null at first")
    period_end: datetime
    entries: int = Field(description="ledger lines settled", examples=[214])
    earners: int = Field(description="settlement lines: one per earner and store", examples=[9])
    earned_fen: int = Field(examples=[86400])
    clawed_back_fen: int = Field(description="taken back (positive)", examples=[2150])
    total_fen: int = Field(description="earned minus clawed back", examples=[84250])
