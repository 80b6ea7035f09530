"""Request and response models of inventory. Counts are strict integers (1.0 and "1" are
refused), and every id is a public id."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loopmall.core.numbers import StrictInt
from loopmall.core.text import PlainText
from loopmall.inventory.rules import MAX_HOLD_TTL, MAX_UNITS, HoldReason, HoldStatus

MAX_TTL_SECONDS = int(MAX_HOLD_TTL.total_seconds())

LOCATION_REF = (
    "A location: its id (`loc_…`), a store's id (`st_…`, the store's own stock) or "
    "`online` (the merchant's default warehouse)"
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationCreate(_In):
    code: PlainText = Field(..., min_length=1, max_length=60, description="The merchant's own code")
    name: PlainText = Field(..., min_length=1, max_length=100)


class LocationOut(BaseModel):
    id: str
    kind: Literal["warehouse", "store"]
    code: str = Field(..., description="A warehouse's code, or its store's code")
    name: str = Field(..., description="A warehouse's name, or its store's name")
    is_default: bool = Field(..., description="The default warehouse: the online stock")
    store: str | None = Field(None, description="The store's id, for a store location")
    created_at: datetime


class StockAdjust(_In):
    sku: PlainText = Field(..., max_length=40, description="The SKU's id (`sku_…`)")
    location: PlainText = Field(..., max_length=40, description=LOCATION_REF)
    delta: StrictInt = Field(
        ..., ge=-MAX_UNITS, le=MAX_UNITS, description="Units to add (+) or remove (−); not 0"
    )
    reason: PlainText = Field(..., min_length=1, max_length=200, description="Why, for the ledger")
    kind: Literal["adjust", "receive"] = Field(
        "adjust", description="`receive`: goods arrived (delta > 0); `adjust`: a correction"
    )


class StockCount(_In):
    sku: PlainText = Field(..., max_length=40)
    location: PlainText = Field(..., max_length=40, description=LOCATION_REF)
    on_hand: StrictInt = Field(..., ge=0, le=MAX_UNITS, description="The counted units")
    reason: PlainText = Field(..., min_length=1, max_length=200)


class StockOut(BaseModel):
    sku: str
    location: str
    on_hand: int = Field(..., description="Units physically there")
    held: int = Field(..., description="Units promised by holds that have not expired")
    available: int = Field(..., description="on_hand − held: what can be sold or held now")


class StockLevelOut(StockOut):
    sku_code: str
    sku_options: dict[str, Any]
    product_title: str
    location_name: str


class HoldCreate(_In):
    sku: PlainText = Field(..., max_length=40)
    location: PlainText = Field(..., max_length=40, description=LOCATION_REF)
    quantity: StrictInt = Field(..., ge=1, le=MAX_UNITS)
    ttl_seconds: StrictInt = Field(
        ..., ge=1, le=MAX_TTL_SECONDS, description="How long the hold lasts (up to 7 days)"
    )
    reason: HoldReason = Field(HoldReason.GUIDE, description="order | guide | other")
    reference: PlainText = Field("", max_length=100, description="e.g. the order or customer")


class HoldExtend(_In):
    ttl_seconds: StrictInt = Field(
        ..., ge=1, le=MAX_TTL_SECONDS, description="The hold now ends this long from now"
    )


class HoldOut(BaseModel):
    id: str
    sku: str
    sku_code: str
    product_title: str
    location: str
    location_name: str
    quantity: int
    reason: HoldReason
    reference: str
    status: HoldStatus = Field(
        ..., description="active | consumed | released | lapsed (an expired hold is lapsed)"
    )
    actor: str = Field(..., description="Who placed it: a staff id or `system`")
    expires_at: datetime
    created_at: datetime
    ended_at: datetime | None = None


class MovementOut(BaseModel):
    kind: str = Field(
        ..., description="receive | adjust | count | hold | release | lapse | consume | extend"
    )
    sku: str
    location: str
    delta_on_hand: int
    delta_held: int
    hold: str | None = None
    reason: str
    actor: str
    created_at: datetime
