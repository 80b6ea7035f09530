"""Distributors (分销员): customers who sell on commission.

Under the policy ``everyone`` every customer who shares earns; under ``approved`` a
customer applies (from the mall) and the merchant approves, rejects or later revokes
(``rules.DISTRIBUTORS``). Only the direct sharer (level 1) and the sharer's sharer
(level 2) ever earn — WeChat forbids deeper chains.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.tenancy import Tenant, scoped
from loopmall.customers.models import Customer
from loopmall.rebates.models import Distributor
from loopmall.rebates.rules import (
    DISTRIBUTORS,
    DistributorPolicy,
    DistributorStatus,
    Rates,
)


async def get_distributor(
    session: AsyncSession, tenant: Tenant, customer_id: int
) -> Distributor | None:
    return await session.scalar(scoped(Distributor, tenant, Distributor.customer_id == customer_id))


async def apply(session: AsyncSession, tenant: Tenant, customer_id: int) -> Distributor:
    """The customer asks to become a distributor: a pending application (again, after a
    refusal or a revocation); an open or approved one is returned as it is."""
    row = await get_distributor(session, tenant, customer_id)
    now = clock.now()
    if row is None:
        row = Distributor(
            merchant_id=tenant.id,
            customer_id=customer_id,
            status=DistributorStatus.PENDING.value,
            applied_at=now,
        )
        session.add(row)
    elif row.status in (DistributorStatus.REJECTED, DistributorStatus.REVOKED):
        DISTRIBUTORS.check(row.status, DistributorStatus.PENDING)
        row.status = DistributorStatus.PENDING.value
        row.applied_at = now
    await session.flush()
    return row


async def customer_by_public_id(session: AsyncSession, tenant: Tenant, public_id: str) -> Customer:
    """The merchant's customer with this public id; NotFound for another merchant's."""
    found = await session.scalar(scoped(Customer, tenant, Customer.public_id == public_id))
    if found is None:
        raise NotFound("No such customer")
    return found


async def decide(
    session: AsyncSession,
    tenant: Tenant,
    customer_public_id: str,
    target: DistributorStatus,
    *,
    actor: str,
) -> tuple[Distributor, Customer]:
    """Approve, reject or revoke a customer as a distributor. The merchant may approve a
    customer who never applied. Raises NotFound, 409 ``illegal_distributor_transition``."""
    customer = await customer_by_public_id(session, tenant, customer_public_id)
    row = await session.scalar(
        scoped(Distributor, tenant, Distributor.customer_id == customer.id).with_for_update()
    )
    now = clock.now()
    if row is None:
        if target is not DistributorStatus.APPROVED:
            raise NotFound("This customer has not applied")
        row = Distributor(
            merchant_id=tenant.id, customer_id=customer.id, status="pending", applied_at=now
        )
        session.add(row)
    DISTRIBUTORS.check(row.status, target)
    row.status = target.value
    row.decided_at = now
    row.decided_by = actor[:60]
    await session.flush()
    return row, customer


async def list_distributors(
    session: AsyncSession, tenant: Tenant, *, status: DistributorStatus | None = None
) -> list[tuple[Distributor, Customer]]:
    """Applications and distributors, newest first, with their customers (one query)."""
    stmt = (
        select(Distributor, Customer)
        .join(Customer, Customer.id == Distributor.customer_id)
        .where(Distributor.merchant_id == tenant.id, Customer.merchant_id == tenant.id)
        .order_by(Distributor.applied_at.desc(), Distributor.id.desc())
        .limit(500)
    )
    if status is not None:
        stmt = stmt.where(Distributor.status == status.value)
    return [(d, c) for d, c in (await session.execute(stmt)).all()]


async def distributors_page(
    session: AsyncSession,
    tenant: Tenant,
    *,
    before: tuple[datetime, int] | None = None,
    limit: int,
) -> tuple[list[tuple[Distributor, Customer]], tuple[datetime, int] | None]:
    """A page of applications and distributors, newest application first, with their
    customers (one query), and the key of the page after it (``None`` on the last page):
    pass it back as ``before``. Never more than ``limit`` rows."""
    stmt = (
        select(Distributor, Customer)
        .join(Customer, Customer.id == Distributor.customer_id)
        .where(Distributor.merchant_id == tenant.id, Customer.merchant_id == tenant.id)
    )
    if before is not None:
        at, ident = before
        stmt = stmt.where(
            or_(
                Distributor.applied_at < at,
                and_(Distributor.applied_at == at, Distributor.id < ident),
            )
        )
    stmt = stmt.order_by(Distributor.applied_at.desc(), Distributor.id.desc()).limit(limit + 1)
    rows = [(d, c) for d, c in (await session.execute(stmt)).all()]
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1][0]
    return rows, (last.applied_at, last.id)


async def who_may_earn(
    session: AsyncSession, tenant: Tenant, rates: Rates, customer_ids: Collection[int]
) -> set[int]:
    """Which of these customers earn distribution commission under the merchant's policy."""
    wanted = {c for c in customer_ids if c}
    if not wanted:
        return set()
    if rates.distributors is DistributorPolicy.EVERYONE:
        # Still a customer of this merchant: a forged id in an event earns nothing.
        rows = await session.scalars(
            select(Customer.id).where(Customer.merchant_id == tenant.id, Customer.id.in_(wanted))
        )
        return set(rows.all())
    rows = await session.scalars(
        select(Distributor.customer_id).where(
            Distributor.merchant_id == tenant.id,
            Distributor.customer_id.in_(wanted),
            Distributor.status == DistributorStatus.APPROVED.value,
        )
    )
    return set(rows.all())
