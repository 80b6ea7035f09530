"""The events the guides domain publishes: a fitting booked, its reminder, and a chat message."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from loopmall.core.events import Event


class FittingEvent(Event):
    """What every fitting event says: who, where, with whom, when."""

    aggregate_field: ClassVar[str | None] = "fitting_id"

    fitting_id: int
    fitting_public_id: str
    customer_id: int | None
    store_id: int
    store_name: str
    store_address: str
    guide_staff_id: int
    guide_name: str
    starts_at: datetime
    # The held item's title when the fitting is for a held item; else empty.
    title: str


class FittingBooked(FittingEvent):
    topic = "fitting.booked"
    summary = "A guide booked a fitting for a customer at a store."


class FittingReminder(FittingEvent):
    topic = "fitting.reminder"
    summary = "A booked fitting starts soon (sent once, a lead time before the start)."


class ChatMessageSent(Event):
    topic = "chat.message_sent"
    summary = (
        "A message was posted in a conversation between a customer and a guide "
        "(text, a product card, a pick, or a note of a hold or a fitting)."
    )
    outward = True
    # One conversation's messages in the order they were sent.
    aggregate_field: ClassVar[str | None] = "conversation_id"

    message_id: int
    message_public_id: str
    conversation_id: int
    conversation_public_id: str
    customer_id: int
    guide_staff_id: int
    store_id: int | None
    sender: str = Field(description="`customer`, `guide` or `system`", examples=["customer"])
    kind: str = Field(
        description="`text`, `card`, `pick`, `hold`, `fitting` or `system`", examples=["text"]
    )
    # Not the text: what customers write stays in the conversation (it may hold a phone
    # number); a merchant's system reads it through the API with the public id.
    staff_id: int | None = Field(description="the staff member who wrote it, for a guide's")
