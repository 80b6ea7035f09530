"""Request and response models of the payments API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from loopmall.core.numbers import StrictInt
from loopmall.core.text import PlainText
from loopmall.integrations.payment_provider import PayMethod
from loopmall.payments.models import Payment, PaymentAccount, PaymentRefund, ReconciliationReport


class PaymentStartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: PlainText = Field(..., max_length=40, description="The order's public id")
    method: PayMethod
    openid: PlainText | None = Field(None, max_length=128)


class FaceToFaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_fen: StrictInt = Field(..., ge=1, le=100_000_000)
    method: PayMethod
    note: PlainText = Field("", max_length=100)


class PaymentStartOut(BaseModel):
    payment: str
    order: str
    method: str
    state: str
    amount_fen: int
    qr_content: str | None = None
    redirect_url: str | None = None
    jsapi_params: dict[str, str] | None = None


class PaymentOut(BaseModel):
    id: str
    provider: str
    method: str
    state: str
    out_trade_no: str
    amount_fen: int
    refunded_fen: int
    provider_trade_no: str | None
    anomaly: str
    created_at: datetime
    paid_at: datetime | None
    start: dict[str, Any] = Field(default_factory=dict)


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: PlainText = Field(..., max_length=40)
    amount_fen: StrictInt = Field(..., ge=1, le=100_000_000)
    reason: PlainText = Field("", max_length=80)


class RefundOut(BaseModel):
    id: str
    payment: str
    out_refund_no: str
    amount_fen: int
    reason: str
    automatic: bool
    state: str
    created_at: datetime
    succeeded_at: datetime | None


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credentials: dict[str, str | None]


class AccountOut(BaseModel):
    id: str
    provider: str
    app_id: str
    merchant_no: str
    active: bool
    callback_url: str


class ReportOut(BaseModel):
    id: str
    day: str
    checked: int
    differences: int
    lines: list[dict[str, Any]]
    created_at: datetime


class ReconcileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: str = Field(..., pattern=r"^\d{4}-\d{2}-\d{2}$")


class CodeOut(BaseModel):
    id: str
    url: str
    store: str | None
    guide: str | None
    label: str


def payment_out(p: Payment, *, with_start: bool = False) -> PaymentOut:
    return PaymentOut(
        id=p.public_id,
        provider=p.provider,
        method=p.method,
        state=p.state,
        out_trade_no=p.out_trade_no,
        amount_fen=p.amount_fen,
        refunded_fen=p.refunded_fen,
        provider_trade_no=p.provider_trade_no,
        anomaly=p.anomaly,
        created_at=p.created_at,
        paid_at=p.paid_at,
        start=dict(p.start) if with_start else {},
    )


def refund_out(r: PaymentRefund, payment_public_id: str) -> RefundOut:
    return RefundOut(
        id=r.public_id,
        payment=payment_public_id,
        out_refund_no=r.out_refund_no,
        amount_fen=r.amount_fen,
        reason=r.reason,
        automatic=r.automatic,
        state=r.state,
        created_at=r.created_at,
        succeeded_at=r.succeeded_at,
    )


def account_out(a: PaymentAccount, callback_url: str) -> AccountOut:
    return AccountOut(
        id=a.public_id,
        provider=a.provider,
        app_id=a.app_id,
        merchant_no=a.merchant_no,
        active=a.active,
        callback_url=callback_url,
    )


def report_out(r: ReconciliationReport) -> ReportOut:
    return ReportOut(
        id=r.public_id,
        day=r.day,
        checked=r.checked,
        differences=r.differences,
        lines=list(r.lines),
        created_at=r.created_at,
    )
