"""What the merchants domain needs from the staff domain, which sits above it (staff work
in a merchant's stores): the owner made when a merchant is onboarded, and how many staff
work in each store for the store list. The staff package registers its implementation
when imported (``staff/__init__.py``), so merchants never imports staff."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant


class Owner(Protocol):
    """The owner staff member made at onboarding."""

    @property
    def id(self) -> int: ...

    @property
    def public_id(self) -> str: ...

    @property
    def merchant_id(self) -> int: ...


class MerchantStaff(Protocol):
    async def add_owner(
        self, session: AsyncSession, tenant: Tenant, *, name: str, phone: str, password_hash: str
    ) -> Owner:
        """Add the merchant's owner (name, phone and password already checked); flushes."""
        ...

    async def counts_by_store(
        self, session: AsyncSession, tenant: Tenant, store_ids: Collection[int]
    ) -> dict[int, int]:
        """How many active staff work in each of these stores."""
        ...


_staff: MerchantStaff | None = None


def use_merchant_staff(staff: MerchantStaff) -> None:
    """Called once by the staff package when it is imported."""
    global _staff
    _staff = staff


def merchant_staff() -> MerchantStaff:
    if _staff is None:
        raise RuntimeError("no merchant staff registered: import loopmall.staff first")
    return _staff
