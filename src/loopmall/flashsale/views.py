"""What a shopper and the console see of a sale (shared by the API and the pages).

The mall's sale page and ``GET /api/v1/mall/{slug}/flash/{sale}`` read in two statements
whoever asks (issue #13): :func:`sale_for_everyone` — the sale, its SKU and product, the
prices, the same for every visitor, as plain JSON data a read cache may keep — and
:func:`visitor_view` — what changes by the second or differs per visitor: units left, and
the shopper's reservation and ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Product, Sku
from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.tenancy import Tenant
from loopmall.flashsale.models import FlashBucket, FlashReservation, FlashSale, FlashTicket
from loopmall.flashsale.rules import Phase, TicketStatus, phase_at
from loopmall.orders.models import Order

_TIMES = ("reserve_from", "reserve_until", "starts_at", "ends_at")


@dataclass(frozen=True, slots=True)
class TicketView:
    status: str
    request_id: str
    order_public_id: str | None

    @property
    def awaits_payment(self) -> bool:
        return self.status == TicketStatus.ORDERED and self.order_public_id is not None


@dataclass(frozen=True, slots=True)
class ShopperView:
    reserved: bool
    sold_out: bool
    ticket: TicketView | None


@dataclass(frozen=True, slots=True)
class SaleShown:
    """The sale as a shopper sees it, made from :func:`sale_for_everyone`'s data."""

    id: int
    public_id: str
    title: str
    status: str
    price_fen: int
    list_fen: int
    per_person_limit: int
    pay_within_seconds: int
    reserve_from: datetime
    reserve_until: datetime
    starts_at: datetime
    ends_at: datetime
    sku_public_id: str
    options: dict[str, str]
    product_public_id: str
    product_title: str

    @classmethod
    def of(cls, data: dict[str, Any]) -> SaleShown:
        times = {key: datetime.fromisoformat(data[key]) for key in _TIMES}
        return cls(**(data | times))

    def phase(self, now: datetime | None = None) -> Phase:
        return phase_at(
            now or clock.now(),
            status=self.status,
            reserve_from=self.reserve_from,
            reserve_until=self.reserve_until,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
        )

    def reserving(self, now: datetime | None = None) -> bool:
        """Whether reservations are open (``service.reserving`` on these values)."""
        now = now or clock.now()
        return self.status == "active" and self.reserve_from <= now < min(
            self.reserve_until, self.ends_at
        )


async def sale_for_everyone(session: AsyncSession, tenant: Tenant, sale: str) -> dict[str, Any]:
    """The merchant's sale with public id ``sale``, its SKU and product: what is the same for
    every visitor, as JSON-serialisable data (times as ISO text), in one statement.
    ``SaleShown.of`` reads it back. Raises ``NotFound`` for none or another merchant's."""
    row = (
        (
            await session.execute(
                select(
                    FlashSale.id,
                    FlashSale.public_id,
                    FlashSale.title,
                    FlashSale.status,
                    FlashSale.price_fen,
                    FlashSale.list_fen,
                    FlashSale.per_person_limit,
                    FlashSale.pay_within_seconds,
                    *(getattr(FlashSale, key) for key in _TIMES),
                    Sku.public_id.label("sku_public_id"),
                    Sku.options,
                    Product.public_id.label("product_public_id"),
                    Product.title.label("product_title"),
                )
                .join(Sku, Sku.id == FlashSale.sku_id)
                .join(Product, Product.id == Sku.product_id)
                .where(FlashSale.merchant_id == tenant.id, FlashSale.public_id == sale)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("No such flash sale")
    data = dict(row)
    data["options"] = {str(k): str(v) for k, v in (row["options"] or {}).items()}
    data.update({key: row[key].isoformat() for key in _TIMES})
    return data


async def visitor_view(
    session: AsyncSession, tenant: Tenant, sale_id: int, customer_id: int | None
) -> ShopperView:
    """Whether units are left and, for a customer, whether they reserved and their ticket
    with its order: one statement of scalar subqueries, each through a unique index (the
    buckets', at most 256 rows; the reservation's and the ticket's (sale, customer))."""
    left = select(func.coalesce(func.sum(FlashBucket.remaining), 0)).where(
        FlashBucket.sale_id == sale_id
    )
    if customer_id is None:
        remaining = await session.scalar(left)
        return ShopperView(False, int(remaining or 0) == 0, None)
    ticket = (FlashTicket.sale_id == sale_id, FlashTicket.customer_id == customer_id)
    row = (
        await session.execute(
            select(
                left.scalar_subquery().label("remaining"),
                select(FlashReservation.customer_id)
                .where(
                    FlashReservation.sale_id == sale_id,
                    FlashReservation.customer_id == customer_id,
                )
                .exists()
                .label("reserved"),
                select(FlashTicket.status).where(*ticket).scalar_subquery().label("status"),
                select(FlashTicket.request_id).where(*ticket).scalar_subquery().label("request"),
                select(Order.public_id)
                .join(FlashTicket, FlashTicket.order_id == Order.id)
                .where(*ticket, Order.merchant_id == tenant.id)
                .scalar_subquery()
                .label("order"),
            )
        )
    ).one()
    view = TicketView(row.status, row.request, row.order) if row.status is not None else None
    return ShopperView(bool(row.reserved), int(row.remaining or 0) == 0, view)


async def shopper_view(
    session: AsyncSession, tenant: Tenant, sale: FlashSale, customer_id: int | None
) -> ShopperView:
    """Whether the customer reserved, whether units are left, and their ticket."""
    return await visitor_view(session, tenant, sale.id, customer_id)


async def sku_public_ids(session: AsyncSession, sku_ids: set[int]) -> dict[int, str]:
    if not sku_ids:
        return {}
    rows = await session.execute(select(Sku.id, Sku.public_id).where(Sku.id.in_(sku_ids)))
    return {sku_id: public_id for sku_id, public_id in rows.all()}
