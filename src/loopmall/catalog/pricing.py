"""How a SKU's configured prices become the price a buyer pays: pure rules, no I/O.

A SKU has a base price (``Sku.price``, optional ``Sku.member_price``) and may have a price
row per channel key: ``online`` (the online mall), ``wechat`` (the exclusive 微信价) and
``store:<store id>`` (one offline store); each row has a price and an optional member price.

Precedence: the levels looked at for each channel, most specific first (``rule`` names the
level that produced the price):

- ``online``: the online row → base
- ``wechat``: the wechat row → the online row → base (the WeChat mall is an online channel)
- ``store``: that store's row → base

The first level in that order that exists sets the **list price** of the channel (what a
non-member pays). A member pays the first *member price* found down the same levels, when
it is below the list price (rule ``<level>_member``, or ``member`` for the SKU's own member
price); otherwise the list price. So a member never pays more than a non-member in the same
channel, and every quote equals one of the configured prices.

Sales scope: ``online_only`` items are not sold in stores, ``store_only`` items are not sold
in the online channels (``online``, ``wechat``); asking for such a quote raises
:class:`NotSoldInChannel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from loopmall.catalog.errors import NotSoldInChannel
from loopmall.core.errors import ValidationFailed


class Channel(StrEnum):
    ONLINE = "online"
    WECHAT = "wechat"
    STORE = "store"


class SalesScope(StrEnum):
    ALL = "all"
    ONLINE_ONLY = "online_only"
    STORE_ONLY = "store_only"


ONLINE_CHANNELS = frozenset({Channel.ONLINE, Channel.WECHAT})


@dataclass(frozen=True, slots=True)
class PriceLevel:
    """One configured level: a price and, optionally, a member price (fen)."""

    price: int
    member_price: int | None = None


@dataclass(frozen=True, slots=True)
class SkuPrices:
    """Everything that decides a SKU's price: its base level, its channel rows by channel
    key, and its effective sales scope (the SKU's own, else its product's)."""

    base: PriceLevel
    channels: Mapping[str, PriceLevel] = field(default_factory=dict)
    sales_scope: SalesScope = SalesScope.ALL


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """What to charge (``amount``), the channel's non-member price, and the rule applied."""

    amount: int
    list_price: int
    rule: str


def channel_key(channel: Channel, store_id: int | None = None) -> str:
    """The key a channel price row is stored under: ``online``, ``wechat``, ``store:<id>``."""
    if channel is Channel.STORE:
        if store_id is None:
            raise ValidationFailed("A store price needs a store", field="store")
        return f"store:{store_id}"
    if store_id is not None:
        raise ValidationFailed("Only the store channel takes a store", field="store")
    return channel.value


def sold_in(scope: SalesScope, channel: Channel) -> bool:
    """Whether an item of ``scope`` may be sold in ``channel``."""
    if scope is SalesScope.ONLINE_ONLY:
        return channel in ONLINE_CHANNELS
    if scope is SalesScope.STORE_ONLY:
        return channel is Channel.STORE
    return True


def channel_keys(channel: Channel, store_id: int | None) -> list[str]:
    """The channel price rows that can matter for a quote in ``channel`` (and store)."""
    return [key for _rule, key in _levels(channel, store_id)]


def _levels(channel: Channel, store_id: int | None) -> list[tuple[str, str]]:
    """(rule, channel key) of the channel rows to look at, most specific first."""
    if channel is Channel.ONLINE:
        return [("online", "online")]
    if channel is Channel.WECHAT:
        return [("wechat", "wechat"), ("online", "online")]
    return [("store", channel_key(Channel.STORE, store_id))]


def resolve_price(
    prices: SkuPrices, channel: Channel, store_id: int | None, is_member: bool
) -> PriceQuote:
    """The price of one unit in ``channel`` (and store) for a member or not.

    Raises :class:`NotSoldInChannel` when the item's sales scope excludes the channel and
    ``ValidationFailed`` when a store is missing for, or given to, the wrong channel.
    """
    channel_key(channel, store_id)  # validates the channel/store pairing
    if not sold_in(prices.sales_scope, channel):
        raise NotSoldInChannel(
            f"This item is {prices.sales_scope.value.replace('_', '-')} "
            f"and is not sold in the {channel.value} channel",
            channel=channel.value,
            sales_scope=prices.sales_scope.value,
        )
    levels: list[tuple[str, PriceLevel]] = [
        (rule, prices.channels[key])
        for rule, key in _levels(channel, store_id)
        if key in prices.channels
    ]
    levels.append(("base", prices.base))
    rule, level = levels[0]
    list_price = level.price
    if is_member:
        for level_rule, candidate in levels:
            if candidate.member_price is None:
                continue
            if candidate.member_price < list_price:
                member_rule = "member" if level_rule == "base" else f"{level_rule}_member"
                return PriceQuote(candidate.member_price, list_price, member_rule)
            break
    return PriceQuote(list_price, list_price, rule)
