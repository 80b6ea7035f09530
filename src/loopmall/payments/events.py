"""The events the payments domain publishes."""

from __future__ import annotations

from pydantic import Field

from loopmall.core.events import Event


class PaymentSucceeded(Event):
    topic = "payment.succeeded"
    summary = "A payment was confirmed by its provider and the order marked paid."
    outward = True  # for the open platform's webhooks; in-house domains follow order.paid
    payment_id: int = Field(description="the payment attempt that succeeded")
    order_id: int = Field(description="the order it paid")
    amount_fen: int = Field(description="the amount paid, in fen")
    provider: str = Field(description="wechatpay, alipay or sandbox")


class RefundRequested(Event):
    topic = "payment.refund_requested"
    summary = "A refund was recorded; the payments domain sends it to the provider."
    refund_id: int = Field(description="the refund to send")
    payment_id: int
