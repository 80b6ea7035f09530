"""The events the guides domain publishes: a fitting booked, and its reminder."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

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
