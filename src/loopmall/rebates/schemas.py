"""Request and response models of the commission API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from loopmall.core.numbers import BasisPoints, StrictInt
from loopmall.rebates.rules import DistributorPolicy, Rates

BP = Field(0, description="basis points (100 = 1 %)")


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store_bp: BasisPoints = BP
    guide_bp: BasisPoints = BP
    level1_bp: BasisPoints = Field(0, description="the direct sharer (distributor)")
    level2_bp: BasisPoints = Field(0, description="the sharer's sharer; 0 = off")
    distributor_cap_fen: StrictInt | None = Field(
        None, ge=0, le=100_000_000, description="most one distributor earns per order"
    )
    distributors: DistributorPolicy = DistributorPolicy.APPROVED

    def rates(self) -> Rates:
        return Rates(
            store_bp=self.store_bp,
            guide_bp=self.guide_bp,
            level1_bp=self.level1_bp,
            level2_bp=self.level2_bp,
            distributor_cap_fen=self.distributor_cap_fen,
            distributors=self.distributors,
        )


class RulesOut(RulesIn):
    total_bp: int

    @classmethod
    def of(cls, rates: Rates) -> RulesOut:
        return cls(
            store_bp=rates.store_bp,
            guide_bp=rates.guide_bp,
            level1_bp=rates.level1_bp,
            level2_bp=rates.level2_bp,
            distributor_cap_fen=rates.distributor_cap_fen,
            distributors=rates.distributors,
            total_bp=rates.store_bp + rates.guide_bp + rates.level1_bp + rates.level2_bp,
        )


class EarnerOut(BaseModel):
    kind: str  # store | staff | customer
    id: str | None  # public id
    name: str


class EntryOut(BaseModel):
    id: str
    kind: str  # earning | clawback
    order: str | None  # public id
    order_number: str | None
    role: str
    rule: str
    earner: EarnerOut
    store: str | None
    store_name: str = ""
    base_fen: int
    rate_bp: int
    amount_fen: int
    at: datetime
    settlement: str | None


class Totals(BaseModel):
    earned_fen: int
    clawed_back_fen: int
    net_fen: int
    entries: int


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None = None
    totals: Totals


class SettleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    through: date = Field(..., description="the last day of the period (Asia/Shanghai), included")


class SettlementLineOut(BaseModel):
    earner: EarnerOut
    store: str | None
    store_name: str = ""
    entries: int
    earned_fen: int
    clawed_back_fen: int
    net_fen: int


class SettlementOut(BaseModel):
    id: str
    period_start: datetime | None
    period_end: datetime
    entries: int
    total_fen: int
    created_at: datetime
    lines: list[SettlementLineOut] | None = None


class EarningsOut(BaseModel):
    earner: EarnerOut
    earned_fen: int
    clawed_back_fen: int
    net_fen: int
    settled_fen: int
    pending_fen: int
    orders: int


class DistributorOut(BaseModel):
    customer: str
    name: str
    status: str
    applied_at: datetime
    decided_at: datetime | None


class MyDistributionOut(BaseModel):
    policy: str
    status: str | None  # none, pending, approved, rejected, revoked
    may_earn: bool
    earnings: EarningsOut
