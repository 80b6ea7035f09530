"""Channel prices (online, 微信价, per store) and member prices, and quoting a SKU's price.

The rules live in :mod:`loopmall.catalog.pricing`; this module loads what they need.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog import repository
from loopmall.catalog.errors import NotForSale
from loopmall.catalog.models import ChannelPrice, Product, Sku
from loopmall.catalog.pricing import (
    Channel,
    PriceLevel,
    PriceQuote,
    SalesScope,
    SkuPrices,
    channel_key,
    channel_keys,
    resolve_price,
)
from loopmall.catalog.repository import SkuDetail
from loopmall.catalog.schemas import ChannelPriceIn
from loopmall.catalog.service import prices_changed
from loopmall.core import clock
from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant


def parse_channel(channel: Channel | str) -> Channel:
    try:
        return Channel(channel)
    except ValueError:
        raise ValidationFailed(
            f"Unknown channel {channel!r}; use online, wechat or store", field="channel"
        ) from None


async def _store_id(
    session: AsyncSession, tenant: Tenant, channel: Channel, store_public_id: str | None
) -> int | None:
    """The store's id for the store channel (NotFound for another merchant's store)."""
    if channel is Channel.STORE:
        if not store_public_id:
            raise ValidationFailed("The store channel needs a store", field="store")
        return (await repository.store_by_public_id(session, tenant, store_public_id)).id
    if store_public_id:
        raise ValidationFailed("Only the store channel takes a store", field="store")
    return None


async def set_channel_price(
    session: AsyncSession, tenant: Tenant, sku_public_id: str, data: ChannelPriceIn
) -> SkuDetail:
    """Set (create or replace) the SKU's price and member price in one channel: ``online``,
    ``wechat`` (the exclusive 微信价) or one store. NotFound for another merchant's SKU or
    store. An insert-or-update in one statement, so two concurrent writers never collide."""
    sku, product = await repository.sku_with_product(session, tenant, sku_public_id)
    store_id = await _store_id(session, tenant, data.channel, data.store)
    values = {
        "merchant_id": tenant.id,
        "sku_id": sku.id,
        "channel": data.channel.value,
        "store_id": store_id,
        "channel_key": channel_key(data.channel, store_id),
        "price": data.price,
        "member_price": data.member_price,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(ChannelPrice).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ChannelPrice.sku_id, ChannelPrice.channel_key],
        set_={"price": stmt.excluded.price, "member_price": stmt.excluded.member_price},
    )
    await session.execute(stmt)
    sku.updated_at = clock.now()
    await session.flush()
    await publish(session, prices_changed(tenant, sku, product.public_id))
    prices = await repository.price_rows(session, tenant, [sku.id])
    return SkuDetail(
        sku, product.public_id, SalesScope(product.sales_scope), prices.get(sku.id, [])
    )


async def clear_channel_price(
    session: AsyncSession,
    tenant: Tenant,
    sku_public_id: str,
    channel: Channel | str,
    store_public_id: str | None = None,
) -> bool:
    """Remove the SKU's price in one channel, so the next level applies again. Returns
    whether there was one. NotFound for another merchant's SKU or store."""
    chosen = parse_channel(channel)
    sku, product = await repository.sku_with_product(session, tenant, sku_public_id)
    store_id = await _store_id(session, tenant, chosen, store_public_id)
    result = await session.execute(
        delete(ChannelPrice).where(
            ChannelPrice.merchant_id == tenant.id,
            ChannelPrice.sku_id == sku.id,
            ChannelPrice.channel_key == channel_key(chosen, store_id),
        )
    )
    removed = bool(getattr(result, "rowcount", 0))
    if removed:
        await publish(session, prices_changed(tenant, sku, product.public_id))
    return removed


async def quote_skus(
    session: AsyncSession,
    tenant: Tenant,
    sku_public_ids: Sequence[str],
    *,
    channel: Channel | str,
    store_public_id: str | None = None,
    is_member: bool = False,
) -> dict[str, PriceQuote]:
    """The price of one unit of each SKU in ``channel`` (and store), by SKU public id, in
    at most 3 queries whatever the number of SKUs.

    Raises NotFound for an unknown SKU or store (or another merchant's),
    :class:`NotForSale` when the SKU is inactive or its product not active,
    :class:`~loopmall.catalog.errors.NotSoldInChannel` when the item's sales scope
    excludes the channel, and ``ValidationFailed`` for an unknown channel or a store given
    to the wrong channel.
    """
    chosen = parse_channel(channel)
    store_id = await _store_id(session, tenant, chosen, store_public_id)
    wanted = list(dict.fromkeys(sku_public_ids))
    if not wanted:
        return {}
    rows = (
        await session.execute(
            select(Sku, Product.status, Product.sales_scope)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.merchant_id == tenant.id, Sku.public_id.in_(wanted))
        )
    ).all()
    found = {sku.public_id: (sku, status, scope) for sku, status, scope in rows}
    for public_id in wanted:
        if public_id not in found:
            raise NotFound("No such SKU", sku=public_id)
    prices = await repository.price_rows(
        session,
        tenant,
        [sku.id for sku, _s, _p in found.values()],
        keys=channel_keys(chosen, store_id),
    )
    quotes: dict[str, PriceQuote] = {}
    for public_id in wanted:
        sku, product_status, product_scope = found[public_id]
        if sku.status != "active" or product_status != "active":
            raise NotForSale("This item is not on sale", sku=public_id)
        levels = {
            row.key: PriceLevel(row.price, row.member_price) for row in prices.get(sku.id, [])
        }
        sku_prices = SkuPrices(
            base=PriceLevel(sku.price, sku.member_price),
            channels=levels,
            sales_scope=SalesScope(sku.sales_scope or product_scope),
        )
        quotes[public_id] = resolve_price(sku_prices, chosen, store_id, is_member)
    return quotes


async def quote_sku(
    session: AsyncSession,
    tenant: Tenant,
    sku_public_id: str,
    *,
    channel: Channel | str,
    store_public_id: str | None = None,
    is_member: bool = False,
) -> PriceQuote:
    """The price of one unit of a SKU; see :func:`quote_skus` for the rules and errors."""
    quotes = await quote_skus(
        session,
        tenant,
        [sku_public_id],
        channel=channel,
        store_public_id=store_public_id,
        is_member=is_member,
    )
    return quotes[sku_public_id]
