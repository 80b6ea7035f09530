"""Request and response models of the flashsale API."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from loopmall.core.numbers import StrictInt
from loopmall.core.text import PlainText
from loopmall.flashsale.models import FlashSale
from loopmall.flashsale.repository import SaleCounts
from loopmall.flashsale.rules import MAX_PER_PERSON, MAX_STOCK
from loopmall.flashsale.service import phase

PUBLIC_ID = r"^[a-z0-9_]+$"


class SaleIn(BaseModel):
    sku: str = Field(..., max_length=40, pattern=PUBLIC_ID)
    title: PlainText = Field(..., min_length=1, max_length=120)
    price_fen: StrictInt = Field(..., ge=1, le=100_000_000)
    stock: StrictInt = Field(..., ge=1, le=MAX_STOCK)
    reserve_from: AwareDatetime
    reserve_until: AwareDatetime
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    per_person_limit: StrictInt = Field(1, ge=1, le=MAX_PER_PERSON)
    pay_within_seconds: StrictInt | None = Field(None, ge=60, le=86_400)


class SaleOut(BaseModel):
    id: str
    title: str
    sku: str
    price_fen: int
    list_fen: int
    stock: int
    per_person_limit: int
    pay_within_seconds: int
    reserve_from: datetime
    reserve_until: datetime
    starts_at: datetime
    ends_at: datetime
    gate: str
    status: str
    phase: str


class CountsOut(BaseModel):
    reservations: int
    accepted: int
    ordered: int
    paid: int
    lapsed: int
    remaining: int
    units_sold: int
    attempts: int  # seen by the database gate of the process that answered


class SaleLiveOut(SaleOut):
    counts: CountsOut


class TicketOut(BaseModel):
    status: str  # accepted|ordered|paid|lapsed
    request: str
    order: str | None
    pay_url: str | None


class MallSaleOut(BaseModel):
    id: str
    title: str
    price_fen: int
    list_fen: int
    per_person_limit: int
    reserve_from: datetime
    reserve_until: datetime
    starts_at: datetime
    ends_at: datetime
    phase: str
    now: datetime
    reserved: bool
    sold_out: bool
    ticket: TicketOut | None


class TokenOut(BaseModel):
    token: str
    expires_at: datetime


class BuyIn(BaseModel):
    token: str = Field(..., min_length=1, max_length=200)


class BuyOut(BaseModel):
    status: str
    request: str
    sale: str


def sale_out(sale: FlashSale, sku_public_id: str) -> SaleOut:
    return SaleOut(
        id=sale.public_id,
        title=sale.title,
        sku=sku_public_id,
        price_fen=sale.price_fen,
        list_fen=sale.list_fen,
        stock=sale.stock,
        per_person_limit=sale.per_person_limit,
        pay_within_seconds=sale.pay_within_seconds,
        reserve_from=sale.reserve_from,
        reserve_until=sale.reserve_until,
        starts_at=sale.starts_at,
        ends_at=sale.ends_at,
        gate=sale.gate,
        status=sale.status,
        phase=phase(sale).value,
    )


def counts_out(counts: SaleCounts, attempts: int) -> CountsOut:
    return CountsOut(
        reservations=counts.reservations,
        accepted=counts.accepted,
        ordered=counts.ordered,
        paid=counts.paid,
        lapsed=counts.lapsed,
        remaining=counts.remaining,
        units_sold=counts.units_sold,
        attempts=attempts,
    )
