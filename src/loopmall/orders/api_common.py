"""What the staff and consumer order routes share: a page of orders."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.pagination import Page
from loopmall.core.tenancy import Tenant
from loopmall.orders import queries, service
from loopmall.orders.schemas import OrderOut, order_out


async def list_page(
    session: AsyncSession,
    tenant: Tenant,
    filters: queries.OrderFilters,
    *,
    store_ids: frozenset[int] | None,
    cursor: str | None,
    limit: int,
    pay_base: str | None = None,
    for_customer: bool = False,
) -> Page[OrderOut]:
    """A page of orders; ``for_customer``: the customer's own (pay links, pickup codes)."""
    orders, next_cursor = await queries.list_orders(
        session, tenant, filters, store_ids=store_ids, cursor=cursor, limit=limit
    )
    stores = await queries.stores_by_id(session, tenant, {o.store_id for o in orders if o.store_id})
    lines = await queries.first_lines(session, tenant, [o.id for o in orders])
    items = []
    for o in orders:
        public_id, name = stores.get(o.store_id or 0, (None, None))
        pay_url = f"{pay_base}/{o.public_id}" if pay_base and service.awaits_payment(o) else None
        items.append(
            order_out(
                o,
                store_public_id=public_id,
                store_name=name,
                lines=lines.get(o.id),
                pay_url=pay_url,
                for_customer=for_customer,
            )
        )
    return Page[OrderOut](items=items, next_cursor=next_cursor)
