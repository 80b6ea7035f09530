"""The one interface every payment provider speaks (rule 8).

Adapters: WeChat Pay API v3 (``loopmall.integrations.wechatpay``), Alipay
(``loopmall.integrations.alipay``) and the demo's sandbox (``loopmall.payments.sandbox``).
Amounts are int fen everywhere; an adapter converts to the provider's units (Alipay's yuan
strings) at its edge. Adapters know nothing of orders or the database: the payments
service owns the records and decides what a callback means.

It lives with the adapters, not in ``payments``, so that ``integrations`` (and the stand-ins
that speak the providers' protocols back) import no domain: ``payments`` builds an adapter
for an account and uses it through this interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol


class PayMethod(StrEnum):
    WECHAT_JSAPI = "wechat_jsapi"  # inside WeChat: the page calls WeixinJSBridge
    WECHAT_NATIVE = "wechat_native"  # a QR code (code_url) the customer scans
    WECHAT_H5 = "wechat_h5"  # a mobile browser outside WeChat: redirect to h5_url
    ALIPAY_QR = "alipay_qr"  # face-to-face precreate: a QR code (qr_code)
    SANDBOX = "sandbox"  # the demo: a button that pays, through a real callback


@dataclass(frozen=True)
class PayRequest:
    out_trade_no: str
    amount_fen: int
    description: str
    notify_url: str
    method: PayMethod
    expires_at: datetime
    openid: str | None = None  # WECHAT_JSAPI needs the payer's openid for this app
    client_ip: str | None = None  # WECHAT_H5 needs it (scene_info.payer_client_ip)
    attach: str | None = None


@dataclass(frozen=True)
class PayStart:
    """What the pay page needs to let the customer pay."""

    method: PayMethod
    qr_content: str | None = None  # WECHAT_NATIVE code_url, ALIPAY_QR qr_code
    redirect_url: str | None = None  # WECHAT_H5 h5_url, SANDBOX page
    jsapi_params: Mapping[str, str] | None = (
        None  # appId, timeStamp, nonceStr, package, signType, paySign
    )


TradeState = Literal["unpaid", "paid", "closed", "refunded", "unknown"]


@dataclass(frozen=True)
class TradeStatus:
    out_trade_no: str
    state: TradeState
    amount_fen: int | None = None
    provider_trade_no: str | None = None
    paid_at: datetime | None = None
    payer_ref: str | None = None  # openid / buyer_id


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str
    refund_fen: int
    total_fen: int
    reason: str
    notify_url: str


RefundState = Literal["processing", "succeeded", "failed"]


@dataclass(frozen=True)
class RefundResult:
    out_refund_no: str
    state: RefundState
    provider_refund_no: str | None = None


@dataclass(frozen=True)
class CallbackEvent:
    """A verified (and, for WeChat Pay, decrypted) callback in our terms."""

    kind: Literal["payment", "refund"]
    provider_event_id: str  # WeChat's notification id / Alipay's notify_id: for the record
    out_trade_no: str
    state: Literal["paid", "closed", "refund_succeeded", "refund_failed", "other"]
    amount_fen: int | None = None  # the amount paid (payment) or refunded (refund)
    provider_trade_no: str | None = None
    out_refund_no: str | None = None
    occurred_at: datetime | None = None
    app_id: str | None = None
    merchant_no: str | None = None  # mchid / seller_id, checked against the account
    raw: Mapping[str, Any] = field(default_factory=dict)


class CallbackRejected(Exception):
    """The callback failed verification (signature, timestamp window, serial, decryption)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CallbackReply:
    """The HTTP answer the provider expects (so it retries exactly when it should)."""

    status_code: int
    body: bytes
    media_type: str


class ProviderError(Exception):
    """The provider refused or could not be reached; ``code`` is the provider's own."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


class PaymentProvider(Protocol):
    name: str  # "wechatpay" | "alipay" | "sandbox"

    async def start(self, request: PayRequest) -> PayStart: ...

    async def query(self, out_trade_no: str) -> TradeStatus: ...

    async def close(self, out_trade_no: str) -> None: ...

    async def refund(self, request: RefundRequest) -> RefundResult: ...

    def parse_callback(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime
    ) -> CallbackEvent:
        """Verify and decode a callback. Raises :class:`CallbackRejected`."""
        ...

    def accepted(self) -> CallbackReply:
        """The answer to a callback we have recorded (WeChat: 204; Alipay: ``success``)."""
        ...

    def rejected(self, reason: str) -> CallbackReply:
        """The answer that makes the provider retry (WeChat: 4xx/5xx FAIL; Alipay: ``fail``)."""
        ...
