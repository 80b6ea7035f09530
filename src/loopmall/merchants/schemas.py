"""Request and response models of the merchants domain: onboarding, malls, stores."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from loopmall.core.numbers import BasisPoints
from loopmall.merchants.blocks import MAX_BLOCKS, Block

COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"


class SignupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., max_length=100, description="The merchant's name, e.g. 王记水果")
    slug: str = Field(
        ..., max_length=100, description="Merchant code: 3–40 of a-z, 0-9 and single hyphens"
    )
    owner_name: str = Field(..., max_length=50)
    owner_phone: str = Field(..., max_length=20, description="11-digit mainland mobile")
    owner_password: str = Field(..., max_length=200, description="At least 8 characters")


class MerchantOut(BaseModel):
    id: str = Field(..., description="Public id")
    slug: str
    name: str
    status: str = Field(..., description="active | suspended")
    created_at: datetime


class SignupOut(BaseModel):
    merchant: MerchantOut
    owner_id: str = Field(..., description="Public id of the owner's staff account")
    console_url: str


class MallSettingsIn(BaseModel):
    """The whole mall settings (PUT replaces them); the logo is uploaded separately."""

    model_config = ConfigDict(extra="forbid")

    mall_name: str = Field(..., min_length=1, max_length=100)
    primary_color: str = Field(..., pattern=COLOR_PATTERN, examples=["#e4393c"])
    accent_color: str = Field(..., pattern=COLOR_PATTERN, examples=["#222222"])
    cod_enabled: bool = Field(False, description="Cash on delivery offered at checkout")
    blocks: list[Block] = Field(default_factory=list, max_length=MAX_BLOCKS)


class MallSettingsOut(BaseModel):
    mall_name: str
    logo_url: str | None
    primary_color: str
    accent_color: str
    cod_enabled: bool
    blocks: list[Block]
    updated_at: datetime


class LogoOut(BaseModel):
    logo_url: str
    format: str = Field(..., description="PNG | JPEG | WEBP | GIF")
    width: int
    height: int


OpeningHours = dict[str, list[list[str]]]


class StoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(..., min_length=1, max_length=40, description="The merchant's own key")
    name: str = Field(..., min_length=1, max_length=100)
    city: str = Field("", max_length=50)
    district: str = Field("", max_length=50)
    address: str = Field("", max_length=255)
    phone: str = Field("", max_length=30)
    latitude: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    opening_hours: OpeningHours | str | None = Field(
        None,
        description='{"mon": [["10:00", "22:00"]], …} or text: "mon-fri 10:00-22:00; '
        'sat,sun 09:00-23:00", "10:00-22:00", "24h"',
    )
    pickup_enabled: bool = True
    note: str = Field("", max_length=2000)


class StorePatch(BaseModel):
    """The fields to change; closing a store is ``{"status": "closed"}``."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(None, min_length=1, max_length=40)
    name: str | None = Field(None, min_length=1, max_length=100)
    city: str | None = Field(None, max_length=50)
    district: str | None = Field(None, max_length=50)
    address: str | None = Field(None, max_length=255)
    phone: str | None = Field(None, max_length=30)
    latitude: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    opening_hours: OpeningHours | str | None = None
    pickup_enabled: bool | None = None
    status: str | None = Field(None, pattern="^(open|closed)$")
    note: str | None = Field(None, max_length=2000)


class StoreOut(BaseModel):
    id: str = Field(..., description="Public id")
    code: str
    name: str
    city: str
    district: str
    address: str
    phone: str
    latitude: float | None
    longitude: float | None
    opening_hours: OpeningHours
    opening_hours_text: str = Field(..., description="The hours written short")
    pickup_enabled: bool
    status: str
    note: str
    staff_count: int = Field(..., description="Active staff working in this store")
    created_at: datetime
    updated_at: datetime


class GuideDiscountIn(BaseModel):
    """What a guide may take off a store sale alone (beyond it: a manager approves)."""

    model_config = ConfigDict(extra="forbid")

    cap_bp: BasisPoints = Field(..., description="Basis points of the store's price")


class GuideDiscountOut(BaseModel):
    cap_bp: int
