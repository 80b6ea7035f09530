"""The events of an order's life, published in the transaction of each step (``steps.move``).

Every order event carries the order as it is after the step (:class:`OrderEvent`); some add
what only that step knows (the carrier of a shipment, the reason of a cancellation, the
amount of a refund). An order's events are ordered per order (``aggregate_field``).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from loopmall.core.events import Event


class OrderEvent(Event):
    """The fields every order event has: the order after the step."""

    aggregate_field: ClassVar[str | None] = "order_id"

    order_id: int = Field(description="the order's internal id (the aggregate)")
    order_public_id: str = Field(
        description="the order's public id, as in the API and the mall's URLs"
    )
    number: str = Field(description="the order number the customer and the staff see")
    customer_id: int | None = Field(
        description="the buyer (none for an anonymous face-to-face payment)"
    )
    status: str = Field(description="the order's status after this step")
    kind: str = Field(description="mall, store_sale or face_to_face")
    fulfilment: str = Field(description="delivery, pickup or none (face to face)")
    payment_method: str = Field(description="online, or cod (cash on delivery or collection)")
    store_id: int | None = Field(
        description="the store that serves it (pickup, store sale), if any"
    )
    guide_staff_id: int | None = Field(description="the guide who sold it, if any")
    total_fen: int = Field(description="what the order costs, in fen")
    paid_fen: int = Field(description="paid so far, in fen")
    refunded_fen: int = Field(description="refunded so far, in fen")
    # The code the customer shows at the store: pickup orders only (left out of the JSON of
    # the others, as it always was).
    pickup_code: str | None = Field(
        default=None,
        exclude_if=lambda code: code is None,
        description="the code the customer shows at the store (pickup orders only)",
    )


class OrderCreated(OrderEvent):
    topic = "order.created"
    summary = "An order was placed (online, at a store, or as a face-to-face payment)."


class OrderPaid(OrderEvent):
    topic = "order.paid"
    summary = "An order was paid in full."


class OrderShipped(OrderEvent):
    topic = "order.shipped"
    summary = "A delivery order left the warehouse or store."
    carrier: str = Field(description="the carrier's name")
    tracking_no: str = Field(description="the carrier's tracking number")


class OrderReadyForPickup(OrderEvent):
    topic = "order.ready_for_pickup"
    summary = "A pickup order is packed and waits at its store."


class OrderCompleted(OrderEvent):
    topic = "order.completed"
    summary = "The customer has the goods: delivered, collected, or sold at the counter."


class OrderCancelled(OrderEvent):
    topic = "order.cancelled"
    summary = "An order was cancelled; its stock holds are released."
    # unpaid | stock_gone | the customer's or staff's words
    reason: str = Field(description="unpaid, stock_gone, or the customer's or staff's words")


class OrderRefunded(OrderEvent):
    topic = "order.refunded"
    summary = "Money went back to the customer (the status stays for a partial refund)."
    refund_fen: int = Field(description="this refund, in fen (refunded_fen is the running total)")


ORDER_EVENTS: tuple[type[OrderEvent], ...] = (
    OrderCreated,
    OrderPaid,
    OrderShipped,
    OrderReadyForPickup,
    OrderCompleted,
    OrderCancelled,
    OrderRefunded,
)
