"""The customer's in-app inbox: one entry per order step, unread until opened."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.tenancy import Tenant, scoped
from loopmall.notifications.models import InboxMessage

PAGE_SIZE = 50


async def unread_count(session: AsyncSession, tenant: Tenant, customer_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(InboxMessage)
        .where(
            InboxMessage.merchant_id == tenant.id,
            InboxMessage.customer_id == customer_id,
            InboxMessage.read_at.is_(None),
        )
    )
    return int(count or 0)


async def list_inbox(
    session: AsyncSession, tenant: Tenant, customer_id: int, *, limit: int = PAGE_SIZE
) -> list[InboxMessage]:
    rows = await session.scalars(
        scoped(InboxMessage, tenant, InboxMessage.customer_id == customer_id)
        .order_by(InboxMessage.created_at.desc(), InboxMessage.id.desc())
        .limit(limit)
    )
    return list(rows.all())


async def mark_read(
    session: AsyncSession, tenant: Tenant, customer_id: int, public_id: str
) -> InboxMessage:
    """Mark one entry read (again is fine); another customer's entry is not found."""
    row = await session.scalar(
        scoped(
            InboxMessage,
            tenant,
            InboxMessage.customer_id == customer_id,
            InboxMessage.public_id == public_id,
        )
    )
    if row is None:
        raise NotFound("No such message")
    if row.read_at is None:
        row.read_at = clock.now()
        await session.flush()
    return row


async def mark_all_read(session: AsyncSession, tenant: Tenant, customer_id: int) -> int:
    result = await session.execute(
        update(InboxMessage)
        .where(
            InboxMessage.merchant_id == tenant.id,
            InboxMessage.customer_id == customer_id,
            InboxMessage.read_at.is_(None),
        )
        .values(read_at=clock.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)
