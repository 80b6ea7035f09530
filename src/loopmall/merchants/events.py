"""The events the merchants domain publishes: a merchant joined, was suspended, came back."""

from __future__ import annotations

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
