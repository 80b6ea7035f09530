"""The staff accounts that sign in, as the sign-in machinery sees them.

Staff rows belong to the staff domain, which sits above this package (it uses its guards
and permissions). So signing in does not read the staff tables itself: it asks the
:class:`StaffAccounts` that the staff package registers when it is imported
(``staff/__init__.py``), and gets plain :class:`StaffAccount` values back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant
from loopmall.identity.permissions import Role


@dataclass(frozen=True, slots=True)
class StaffAccount:
    """An active staff member of an active merchant, with what signing in needs."""

    id: int
    public_id: str
    name: str
    tenant: Tenant
    role: Role
    store_ids: frozenset[int]  # the stores they are assigned to
    password_hash: str | None

    @property
    def merchant_id(self) -> int:
        return self.tenant.id


class StaffAccounts(Protocol):
    async def for_login(
        self, session: AsyncSession, merchant_slug: str, phone: str
    ) -> StaffAccount | None:
        """The active staff member with this phone at the active merchant with this slug."""
        ...

    async def by_id(self, session: AsyncSession, staff_id: int) -> StaffAccount | None:
        """The staff member behind a session, while they and their merchant are active."""
        ...


_accounts: StaffAccounts | None = None


def use_staff_accounts(accounts: StaffAccounts) -> None:
    """Called once by the staff package when it is imported."""
    global _accounts
    _accounts = accounts


def staff_accounts() -> StaffAccounts:
    if _accounts is None:
        raise RuntimeError("no staff accounts registered: import loopmall.staff first")
    return _accounts
