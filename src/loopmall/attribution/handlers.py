"""What the attribution domain does when orders are paid or completed.

``order.paid`` (every online payment, face-to-face 收款码 included: those credit the code's
store/guide, rule ``payment_code``) and ``order.completed`` (orders never paid online — cash
on delivery, store sales — are credited when they complete; an order already credited is
skipped). Crediting publishes ``attribution.credited`` (see ``ledger``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution.ledger import credit_order
from loopmall.core.events import subscribe
from loopmall.core.tenancy import Tenant
from loopmall.orders.events import OrderCompleted, OrderPaid


@subscribe(OrderPaid, "attribution.credit_paid_order")
async def credit_paid_order(session: AsyncSession, tenant: Tenant, event: OrderPaid) -> None:
    await credit_order(session, tenant, event.order_id)


@subscribe(OrderCompleted, "attribution.credit_completed_order")
async def credit_completed_order(
    session: AsyncSession, tenant: Tenant, event: OrderCompleted
) -> None:
    if event.payment_method == "online":
        return  # credited on order.paid
    await credit_order(session, tenant, event.order_id)
