"""A share chain for the demo world: three customers of the mall; the first shares a
product, the second opens the link and shares it on, the third opens the second's link.
The console's share page then shows a chain A → B with its visits (orders follow when the
third customer buys in the demo)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant
from loopmall.customers.service import customer_for, new_consumer
from loopmall.social import service
from loopmall.social.models import Share

DEMO_SHARERS = ("林小美", "周可可", "吴悠")


@dataclass(frozen=True)
class DemoChain:
    shares: list[Share]
    customer_ids: list[int]


async def demo_share_chain(
    session: AsyncSession, tenant: Tenant, *, product_public_id: str
) -> DemoChain:
    """Make the chain (the caller commits). Raises ``NotFound`` when the product is not on
    sale online."""
    customers = []
    for name in DEMO_SHARERS:
        consumer = await new_consumer(session, display_name=name)
        customers.append(await customer_for(session, tenant, consumer, display_name=name))
    first, second, third = customers
    a = await service.create_share(
        session,
        tenant,
        sharer_customer_id=first.id,
        target_kind="product",
        target_ref=product_public_id,
    )
    await service.record_visit(
        session, tenant, a, visitor_id=f"v_demo_{second.public_id}", customer_id=second.id
    )
    b = await service.create_share(
        session,
        tenant,
        sharer_customer_id=second.id,
        target_kind="product",
        target_ref=product_public_id,
        parent_share_id=a.id,
    )
    await service.record_visit(
        session, tenant, b, visitor_id=f"v_demo_{third.public_id}", customer_id=third.id
    )
    return DemoChain([a, b], [c.id for c in customers])
