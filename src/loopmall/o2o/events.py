"""The events the o2o domain publishes."""

from __future__ import annotations

from pydantic import Field

from loopmall.core.events import Event


class QrScanned(Event):
    topic = "qr.scanned"
    summary = (
        "A channel QR code (a store's, a guide's, a product's, a poster's, a join offer) "
        "was scanned."
    )
    outward = True

    scan_id: int
    channel_id: int
    channel_public_id: str
    code: str = Field(description="the code printed in the QR's link", examples=["k7q2m9xawd4h"])
    channel_kind: str = Field(
        description="`store`, `guide`, `product`, `placement` or `join`", examples=["store"]
    )
    store_id: int | None
    guide_staff_id: int | None
    # No anonymous visitor id, address or device: a scan names the customer only when known.
    customer_id: int | None = Field(description="the customer when logged in to the mall")
