"""The events the payments domain publishes."""

from __future__ import annotations

from loopmall.core.events import Event


class PaymentSucceeded(Event):
    topic = "payment.succeeded"
    summary = "A payment was confirmed by its provider and the order marked paid."
    outward = True  # for the open platform's webhooks; in-house domains follow order.paid
    payment_id: int
    order_id: int
    amount_fen: int
    provider: str


class RefundRequested(Event):
    topic = "payment.refund_requested"
    summary = "A refund was recorded; the payments domain sends it to the provider."
    refund_id: int
    payment_id: int
