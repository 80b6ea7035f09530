"""The events the social domain publishes."""

from __future__ import annotations

from pydantic import Field

from loopmall.core.events import Event


class ShareCreated(Event):
    topic = "share.created"
    summary = (
        "A customer shared a page of the mall (a product, a store, the home) for the first time."
    )
    outward = True

    share_id: int
    share_public_id: str
    sharer_customer_id: int
    target_kind: str = Field(description="`product`, `store` or `home`", examples=["product"])
    target_ref: str = Field(
        description="the product's or store's public id; empty for the home",
        examples=["prd_3k9x1m0q7v2d8c4a"],
    )
    parent_share_id: int | None = Field(description="the share the sharer arrived by")
    root_share_id: int | None = Field(description="the first share of the chain")
    depth: int = Field(description="0 for a first share, 1 for a share of a share …")
