"""Request and response models of the o2o domain: QR channels, funnels, memberships."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from loopmall.core.numbers import FenAmount, PositiveFen
from loopmall.core.text import MultilineText, PlainText

Kind = Literal["store", "guide", "product", "placement", "join"]
PublicId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")]
CouponFen = PositiveFen
ThresholdFen = FenAmount


class ChannelIn(BaseModel):
    """A new QR code. What it needs depends on ``kind``: ``store`` a store; ``guide`` a
    guide (their first store if none is given); ``product`` a store and a product or SKU;
    ``placement`` a place name (optionally a product the poster shows); ``join`` nothing
    (optionally a store/guide it was handed out by, and a welcome coupon)."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    name: PlainText = Field(
        "", max_length=100, description="Label; derived from the target if empty"
    )
    store: PublicId | None = None
    guide: PublicId | None = Field(None, description="Staff public id of a shopping guide")
    product: PublicId | None = None
    sku: PublicId | None = None
    place_name: PlainText = Field("", max_length=100, description="The shop or publication")
    place_address: MultilineText = Field("", max_length=255)
    poster_title: PlainText = Field("", max_length=60)
    poster_text: MultilineText = Field("", max_length=500)
    coupon_title: PlainText = Field("", max_length=60, description="Join codes only")
    coupon_fen: CouponFen | None = Field(None, description="Join codes only: welcome coupon")
    coupon_threshold_fen: ThresholdFen = 0


class ChannelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PlainText | None = Field(None, max_length=100)
    place_name: PlainText | None = Field(None, max_length=100)
    place_address: MultilineText | None = Field(None, max_length=255)
    poster_title: PlainText | None = Field(None, max_length=60)
    poster_text: MultilineText | None = Field(None, max_length=500)
    coupon_title: PlainText | None = Field(None, max_length=60)
    active: bool | None = None


class FunnelOut(BaseModel):
    scans: int
    visitors: int = Field(..., description="Distinct devices that scanned")
    members: int = Field(..., description="Customers who joined through this code")
    orders: int = Field(..., description="Orders attribution credited to this code")
    gmv_fen: int


class ChannelOut(BaseModel):
    id: str
    kind: str
    code: str
    name: str
    url: str = Field(..., description="What the QR code holds")
    store: str | None
    store_name: str | None
    guide: str | None
    guide_name: str | None
    product: str | None
    product_title: str | None
    sku: str | None
    place_name: str
    place_address: str
    poster_title: str
    poster_text: str
    coupon_title: str
    coupon_fen: int | None
    coupon_threshold_fen: int
    active: bool
    created_at: datetime
    funnel: FunnelOut | None = None


class ScanOut(BaseModel):
    at: datetime
    visitor: str
    customer: str | None
    ip: str


class MembershipOut(BaseModel):
    member: bool
    id: str | None = None
    joined_at: datetime | None = None
    welcome_coupon: WelcomeOut | None = None


class WelcomeOut(BaseModel):
    title: str
    amount_fen: int
    threshold_fen: int
    status: str


MembershipOut.model_rebuild()
