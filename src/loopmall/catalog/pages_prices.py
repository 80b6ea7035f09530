"""The editor's channel price board: every SKU's price online, as 微信价 and per store, and
a form to set one channel's prices for all SKUs at once (amounts typed in yuan)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog import prices, service
from loopmall.catalog.pricing import Channel
from loopmall.catalog.repository import PriceRow, ProductDetail, SkuDetail
from loopmall.catalog.schemas import MAX_FEN, PUBLIC_ID_PATTERN, ChannelPriceIn
from loopmall.core.errors import NotFound
from loopmall.core.money import format_yuan, parse_yuan
from loopmall.core.tenancy import Tenant
from loopmall.merchants.store_picker import StoreChoice, store_choices

Translate = Callable[..., str]
STORE_ID = re.compile(PUBLIC_ID_PATTERN)


@dataclass
class BoardRow:
    sku: SkuDetail
    price: str = ""
    member_price: str = ""


@dataclass
class PriceBoard:
    """``channel`` is ``online``, ``wechat`` or ``store:<store public id>``."""

    channel: str
    stores: list[tuple[str, str]]  # (public id, name): the chosen, the priced, a few to pick
    columns: list[tuple[str, str | None]]  # overview columns: (channel, store name or None)
    cells: dict[str, dict[str, PriceRow]]  # SKU public id → channel → its price
    rows: list[BoardRow]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def store_name(self) -> str:
        return dict(self.stores).get(self.channel.removeprefix("store:"), "")


def _ui_key(row: PriceRow) -> str:
    return f"store:{row.store_public_id}" if row.channel is Channel.STORE else row.channel.value


def _parse_channel(value: str) -> tuple[Channel, str | None] | None:
    if value in (Channel.ONLINE.value, Channel.WECHAT.value):
        return Channel(value), None
    store = value.removeprefix("store:")
    if value.startswith("store:") and STORE_ID.match(store):
        return Channel.STORE, store
    return None


async def board_stores(
    session: AsyncSession, tenant: Tenant, detail: ProductDetail, channel: str, q: str = ""
) -> list[StoreChoice]:
    """The stores the board names: the channel's store, every store the product has a price
    at, then the first few matching ``q`` for the picker. Not every store of the chain (1,800
    made the editor take 1.8 s at p95, issue #11)."""
    priced = sorted(
        {
            (r.store_name or "", r.store_public_id)
            for s in detail.skus
            for r in s.prices
            if r.channel is Channel.STORE and r.store_public_id
        }
    )
    chosen = [channel.removeprefix("store:")] if channel.startswith("store:") else []
    chosen += [pid for _name, pid in priced]
    return await store_choices(session, tenant, None, q=q[:100], chosen=chosen)


def price_board(detail: ProductDetail, stores: Sequence[StoreChoice], channel: str) -> PriceBoard:
    """The board for ``channel`` (the online mall when it names nothing known)."""
    store_names = [(s.public_id, s.name) for s in stores]
    known = {"online", "wechat", *(f"store:{pid}" for pid, _n in store_names)}
    chosen = channel if channel in known else "online"
    cells = {s.sku.public_id: {_ui_key(r): r for r in s.prices} for s in detail.skus}
    priced_stores = {k for by_key in cells.values() for k in by_key if k.startswith("store:")}
    columns: list[tuple[str, str | None]] = [("online", None), ("wechat", None)]
    columns += sorted(
        ((f"store:{pid}", name) for pid, name in store_names if f"store:{pid}" in priced_stores),
        key=lambda column: column[1] or "",
    )
    rows = []
    for s in detail.skus:
        current = cells[s.sku.public_id].get(chosen)
        rows.append(
            BoardRow(
                sku=s,
                price=format_yuan(current.price) if current else "",
                member_price=format_yuan(current.member_price)
                if current and current.member_price is not None
                else "",
            )
        )
    return PriceBoard(chosen, store_names, columns, cells, rows)


async def save_channel_prices(
    session: AsyncSession,
    tenant: Tenant,
    product_id: str,
    data: Mapping[str, Any],
    _: Translate,
) -> PriceBoard:
    """Set (or, where the price is left blank, clear) one channel's price for each SKU of
    the product. With any bad amount nothing is written and the board carries the errors.
    NotFound for another merchant's product or store."""
    detail = await service.get_product(session, tenant, product_id)
    channel_value = data.get("channel")
    channel_text = channel_value if isinstance(channel_value, str) else ""
    stores = await board_stores(session, tenant, detail, channel_text)
    parsed = _parse_channel(channel_value) if isinstance(channel_value, str) else None
    board = price_board(detail, stores, channel_value if isinstance(channel_value, str) else "")
    if parsed is None:
        board.errors["form"] = _("Choose a channel.")
        return board
    channel, store = parsed
    if board.channel != channel_value:
        raise NotFound("No such store", store=store)
    wanted: list[tuple[SkuDetail, int | None, int | None]] = []
    for row in board.rows:
        sku_id = row.sku.sku.public_id
        row.price = _text(data, f"price-{sku_id}")
        row.member_price = _text(data, f"member-{sku_id}")
        price = _amount(board, f"price-{sku_id}", row.price, _)
        member = _amount(board, f"member-{sku_id}", row.member_price, _)
        if row.price == "" and row.member_price:
            board.errors[f"price-{sku_id}"] = _("Enter the price too, or clear both.")
        elif price is not None and member is not None and member > price:
            board.errors[f"member-{sku_id}"] = _("The member price must not be above the price.")
        wanted.append((row.sku, price, member))
    if board.errors:
        return board
    for sku, price, member in wanted:
        if price is None:
            await prices.clear_channel_price(session, tenant, sku.sku.public_id, channel, store)
        else:
            body = ChannelPriceIn(channel=channel, store=store, price=price, member_price=member)
            await prices.set_channel_price(session, tenant, sku.sku.public_id, body)
    return board


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _amount(board: PriceBoard, name: str, text: str, _: Translate) -> int | None:
    if not text:
        return None
    try:
        fen = parse_yuan(text)
    except ValueError:
        board.errors[name] = _("Enter an amount in yuan, such as 199.00 (at most two decimals).")
        return None
    if fen > MAX_FEN:
        board.errors[name] = _("That amount is too large.")
        return None
    return fen
