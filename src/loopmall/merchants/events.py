"""The events the merchants domain publishes: a merchant joined, was suspended, came back;
its mall or its stores changed what shoppers see."""

from __future__ import annotations

from pydantic import Field

from loopmall.core.events import Event


class MerchantEvent(Event):
    merchant: str  # the merchant's public id
    slug: str


class MerchantOnboarded(MerchantEvent):
    topic = "merchant.onboarded"
    summary = "A merchant was created with its owner account."
    outward = True
    name: str
    owner: str  # the owner's staff public id


class MerchantSuspended(MerchantEvent):
    topic = "merchant.suspended"
    summary = "The platform suspended a merchant: its malls and console close."
    outward = True


class MerchantReactivated(MerchantEvent):
    topic = "merchant.reactivated"
    summary = "A suspended merchant was let back in."
    outward = True


class MallChanged(Event):
    topic = "mall.changed"
    summary = (
        "A merchant's micro-mall changed what shoppers see: its name, logo, colours, home "
        "page blocks or its settings."
    )
    outward = True
    fields: list[str] = Field(
        description="what changed: the settings' names", examples=[["blocks", "mall_name"]]
    )


class StoresChanged(Event):
    topic = "stores.changed"
    summary = (
        "Stores were created or changed (address, hours, pickup, opened or closed): one "
        "store by hand, or many at once by an import."
    )
    outward = True
    stores: list[str] = Field(
        description="the stores' public ids (empty for an import: all may have changed)",
        examples=[["st_5v2k9q0x7mj3hd1c"]],
    )
    change: str = Field(
        description="`created`, `edited`, `opened`, `closed` or `imported`", examples=["closed"]
    )
