"""The price resolution rules, on their own: precedence, member prices, sales scope."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopmall.catalog.errors import NotSoldInChannel
from loopmall.catalog.pricing import (
    Channel,
    PriceLevel,
    PriceQuote,
    SalesScope,
    SkuPrices,
    resolve_price,
)
from loopmall.core.errors import ValidationFailed

STORE = 7
OTHER_STORE = 8

fen = st.integers(min_value=0, max_value=1_000_000)


@st.composite
def levels(draw: st.DrawFn) -> PriceLevel:
    price = draw(fen)
    member = draw(st.one_of(st.none(), fen))
    return PriceLevel(price, member)


@st.composite
def sku_prices(draw: st.DrawFn) -> SkuPrices:
    keys = draw(
        st.lists(
            st.sampled_from(["online", "wechat", f"store:{STORE}", f"store:{OTHER_STORE}"]),
            unique=True,
        )
    )
    return SkuPrices(base=draw(levels()), channels={k: draw(levels()) for k in keys})


channels = st.sampled_from([(Channel.ONLINE, None), (Channel.WECHAT, None), (Channel.STORE, STORE)])


def configured(prices: SkuPrices) -> set[int]:
    every = [prices.base, *prices.channels.values()]
    return {lv.price for lv in every} | {
        lv.member_price for lv in every if lv.member_price is not None
    }


@given(sku_prices(), channels, st.booleans())
def test_a_quote_is_always_one_of_the_configured_prices(
    prices: SkuPrices, where: tuple[Channel, int | None], member: bool
) -> None:
    channel, store = where
    quote = resolve_price(prices, channel, store, member)
    assert quote.amount in configured(prices)
    assert quote.list_price in {lv.price for lv in [prices.base, *prices.channels.values()]}
    assert 0 <= quote.amount <= quote.list_price


@given(sku_prices(), channels)
def test_a_member_never_pays_more_than_a_non_member_in_the_same_channel(
    prices: SkuPrices, where: tuple[Channel, int | None]
) -> None:
    channel, store = where
    member = resolve_price(prices, channel, store, True)
    guest = resolve_price(prices, channel, store, False)
    assert member.amount <= guest.amount
    assert member.list_price == guest.list_price == guest.amount


@given(sku_prices(), channels)
def test_without_member_prices_members_pay_the_list_price(
    prices: SkuPrices, where: tuple[Channel, int | None]
) -> None:
    channel, store = where
    plain = SkuPrices(
        base=PriceLevel(prices.base.price),
        channels={k: PriceLevel(v.price) for k, v in prices.channels.items()},
    )
    assert resolve_price(plain, channel, store, True) == resolve_price(plain, channel, store, False)


@given(sku_prices())
def test_precedence_for_non_members(prices: SkuPrices) -> None:
    ch = prices.channels
    online = resolve_price(prices, Channel.ONLINE, None, False)
    wechat = resolve_price(prices, Channel.WECHAT, None, False)
    store = resolve_price(prices, Channel.STORE, STORE, False)

    if "online" in ch:
        assert (online.amount, online.rule) == (ch["online"].price, "online")
    else:
        assert (online.amount, online.rule) == (prices.base.price, "base")

    if "wechat" in ch:
        assert (wechat.amount, wechat.rule) == (ch["wechat"].price, "wechat")
    else:  # the WeChat mall falls back to the online price, then the base price
        assert (wechat.amount, wechat.rule) == (online.amount, online.rule)

    if f"store:{STORE}" in ch:
        assert (store.amount, store.rule) == (ch[f"store:{STORE}"].price, "store")
    else:  # another store's price never applies; nor do the online prices
        assert (store.amount, store.rule) == (prices.base.price, "base")


@given(sku_prices(), channels)
def test_members_get_the_nearest_member_price_when_it_is_lower(
    prices: SkuPrices, where: tuple[Channel, int | None]
) -> None:
    channel, store = where
    chain = {
        Channel.ONLINE: ["online"],
        Channel.WECHAT: ["wechat", "online"],
        Channel.STORE: [f"store:{STORE}"],
    }[channel]
    found = [(k, prices.channels[k]) for k in chain if k in prices.channels]
    found.append(("base", prices.base))
    list_price = found[0][1].price
    nearest = next(((k, lv.member_price) for k, lv in found if lv.member_price is not None), None)
    quote = resolve_price(prices, channel, store, True)
    if nearest is not None and nearest[1] is not None and nearest[1] < list_price:
        level = nearest[0].split(":")[0]
        rule = "member" if level == "base" else f"{level}_member"
        assert quote == PriceQuote(nearest[1], list_price, rule)
    else:
        assert quote.amount == list_price
        assert not quote.rule.endswith("member")


def test_worked_example() -> None:
    """Base ¥199 (members ¥179), online ¥189, 微信价 ¥169, store 7 ¥209 (members ¥185)."""
    prices = SkuPrices(
        base=PriceLevel(19900, 17900),
        channels={
            "online": PriceLevel(18900),
            "wechat": PriceLevel(16900),
            "store:7": PriceLevel(20900, 18500),
        },
    )
    assert resolve_price(prices, Channel.ONLINE, None, False) == PriceQuote(18900, 18900, "online")
    assert resolve_price(prices, Channel.ONLINE, None, True) == PriceQuote(17900, 18900, "member")
    assert resolve_price(prices, Channel.WECHAT, None, False) == PriceQuote(16900, 16900, "wechat")
    # the 微信价 beats the member price: a member pays the lower list price
    assert resolve_price(prices, Channel.WECHAT, None, True) == PriceQuote(16900, 16900, "wechat")
    assert resolve_price(prices, Channel.STORE, 7, False) == PriceQuote(20900, 20900, "store")
    assert resolve_price(prices, Channel.STORE, 7, True) == PriceQuote(18500, 20900, "store_member")
    assert resolve_price(prices, Channel.STORE, 8, True) == PriceQuote(17900, 19900, "member")


@pytest.mark.parametrize(
    ("scope", "channel", "store", "sold"),
    [
        (SalesScope.ALL, Channel.ONLINE, None, True),
        (SalesScope.ALL, Channel.WECHAT, None, True),
        (SalesScope.ALL, Channel.STORE, STORE, True),
        (SalesScope.ONLINE_ONLY, Channel.ONLINE, None, True),
        (SalesScope.ONLINE_ONLY, Channel.WECHAT, None, True),
        (SalesScope.ONLINE_ONLY, Channel.STORE, STORE, False),
        (SalesScope.STORE_ONLY, Channel.ONLINE, None, False),
        (SalesScope.STORE_ONLY, Channel.WECHAT, None, False),
        (SalesScope.STORE_ONLY, Channel.STORE, STORE, True),
    ],
)
def test_sales_scope_decides_the_channels(
    scope: SalesScope, channel: Channel, store: int | None, sold: bool
) -> None:
    prices = SkuPrices(base=PriceLevel(1000), sales_scope=scope)
    if sold:
        assert resolve_price(prices, channel, store, False).amount == 1000
    else:
        with pytest.raises(NotSoldInChannel) as err:
            resolve_price(prices, channel, store, False)
        assert err.value.code == "not_sold_in_channel"
        assert err.value.extra == {"channel": channel.value, "sales_scope": scope.value}


@pytest.mark.parametrize(
    ("channel", "store"), [(Channel.STORE, None), (Channel.ONLINE, 3), (Channel.WECHAT, 3)]
)
def test_a_store_goes_with_the_store_channel_only(channel: Channel, store: int | None) -> None:
    with pytest.raises(ValidationFailed) as err:
        resolve_price(SkuPrices(base=PriceLevel(1000)), channel, store, False)
    assert err.value.extra == {"field": "store"}
