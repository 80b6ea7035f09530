"""What differs per visitor, applied after the shared reads (``storefront.reads``): a
member sees member prices. One statement for a signed-in visitor, none for anyone else."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog import shelf
from loopmall.catalog.shelf import ShelfProduct
from loopmall.core.tenancy import Tenant
from loopmall.members.service import is_member


async def priced_for(
    session: AsyncSession, tenant: Tenant, customer_id: int | None, item: ShelfProduct
) -> tuple[ShelfProduct, bool]:
    """``item`` as this visitor pays for it, and whether a member price applies to it
    (False for a visitor who is not signed in or not a member)."""
    if customer_id is None or not await is_member(session, tenant, customer_id):
        return item, False
    return shelf.for_member(item)
