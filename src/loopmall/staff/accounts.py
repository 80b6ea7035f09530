"""The staff domain's answers to what the sign-in machinery (``identity.accounts``) and the
merchants domain (``merchants.staffing``) ask of it. Both sit below this package, so they
cannot import it; ``staff/__init__.py`` registers these when the package is imported."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant
from loopmall.identity.accounts import StaffAccount
from loopmall.identity.permissions import Role
from loopmall.merchants.models import Merchant
from loopmall.staff.directory import staff_counts_by_store
from loopmall.staff.models import Staff, StaffStore


async def _account(session: AsyncSession, staff: Staff, merchant: Merchant) -> StaffAccount:
    assigned = (
        await session.scalars(
            select(StaffStore.store_id).where(
                StaffStore.merchant_id == merchant.id, StaffStore.staff_id == staff.id
            )
        )
    ).all()
    return StaffAccount(
        id=staff.id,
        public_id=staff.public_id,
        name=staff.name,
        tenant=Tenant(merchant.id, merchant.slug),
        role=Role(staff.role),
        store_ids=frozenset(assigned),
        password_hash=staff.password_hash,
    )


class StaffAccountsInDb:
    """``identity.accounts.StaffAccounts`` over the staff and merchants tables."""

    async def for_login(
        self, session: AsyncSession, merchant_slug: str, phone: str
    ) -> StaffAccount | None:
        found = (
            await session.execute(
                select(Staff, Merchant)
                .join(Merchant, Merchant.id == Staff.merchant_id)
                .where(
                    Merchant.slug == merchant_slug,
                    Merchant.status == "active",
                    Staff.phone == phone,
                    Staff.active.is_(True),
                )
            )
        ).first()
        return None if found is None else await _account(session, *found)

    async def by_id(self, session: AsyncSession, staff_id: int) -> StaffAccount | None:
        found = (
            await session.execute(
                select(Staff, Merchant)
                .join(Merchant, Merchant.id == Staff.merchant_id)
                .where(Staff.id == staff_id)
            )
        ).first()
        if found is None:
            return None
        staff, merchant = found
        if not staff.active or merchant.status != "active":
            return None
        return await _account(session, staff, merchant)


class StaffOfMerchants:
    """``merchants.staffing.MerchantStaff``: the owner made at onboarding, staff per store."""

    async def add_owner(
        self, session: AsyncSession, tenant: Tenant, *, name: str, phone: str, password_hash: str
    ) -> Staff:
        now = clock.now()
        owner = Staff(
            merchant_id=tenant.id,
            public_id=new_public_id("stf"),
            phone=phone,
            name=name,
            role=Role.OWNER.value,
            employee_no="",
            password_hash=password_hash,
            active=True,
            created_at=now,
            updated_at=now,
        )
        session.add(owner)
        await session.flush()
        return owner

    async def counts_by_store(
        self, session: AsyncSession, tenant: Tenant, store_ids: Collection[int]
    ) -> dict[int, int]:
        return await staff_counts_by_store(session, tenant, store_ids)
