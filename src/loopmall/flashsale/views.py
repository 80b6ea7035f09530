"""What a shopper and the console see of a sale (shared by the API and the pages)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Sku
from loopmall.core.tenancy import Tenant
from loopmall.flashsale.models import FlashSale
from loopmall.flashsale.repository import has_reserved, remaining, ticket_of
from loopmall.flashsale.rules import TicketStatus
from loopmall.orders.models import Order


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


async def shopper_view(
    session: AsyncSession, tenant: Tenant, sale: FlashSale, customer_id: int | None
) -> ShopperView:
    """Whether the customer reserved, whether units are left, and their ticket."""
    sold_out = await remaining(session, sale.id) == 0
    if customer_id is None:
        return ShopperView(False, sold_out, None)
    ticket = await ticket_of(session, sale.id, customer_id)
    view = None
    if ticket is not None:
        order = None
        if ticket.order_id is not None:
            order = await session.scalar(
                select(Order.public_id).where(
                    Order.merchant_id == tenant.id, Order.id == ticket.order_id
                )
            )
        view = TicketView(ticket.status, ticket.request_id, order)
    reserved = await has_reserved(session, sale.id, customer_id)
    return ShopperView(reserved, sold_out, view)


async def sku_public_ids(session: AsyncSession, sku_ids: set[int]) -> dict[int, str]:
    if not sku_ids:
        return {}
    rows = await session.execute(select(Sku.id, Sku.public_id).where(Sku.id.in_(sku_ids)))
    return {sku_id: public_id for sku_id, public_id in rows.all()}
