"""Who is calling: a merchant's staff member or a platform operator."""

from __future__ import annotations

from dataclasses import dataclass, field

from loopmall.core.errors import Forbidden, NotFound
from loopmall.core.tenancy import Tenant
from loopmall.identity.permissions import ROLE_PERMISSIONS, STORE_SCOPED_ROLES, Perm, Role


@dataclass(frozen=True)
class Principal:
    kind: str  # "staff" | "operator"
    public_id: str
    name: str
    session_id: int
    csrf_token: str
    via: str  # "cookie" | "bearer"
    tenant: Tenant | None = None
    staff_id: int | None = None
    operator_id: int | None = None
    role: Role | None = None
    # None: every store of the merchant; otherwise the store ids this person works in.
    store_ids: frozenset[int] | None = field(default=None)

    @property
    def scope(self) -> str:
        """The namespace for this caller's idempotency keys."""
        if self.kind == "staff":
            return f"staff:{self.staff_id}"
        return f"operator:{self.operator_id}"

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"

    def can(self, perm: Perm) -> bool:
        if self.kind == "operator":
            return True
        return self.role is not None and perm in ROLE_PERMISSIONS[self.role]

    def require(self, perm: Perm) -> None:
        if not self.can(perm):
            raise Forbidden(f"Your role may not do this ({perm.value})", permission=perm.value)

    def require_tenant(self) -> Tenant:
        if self.tenant is None:
            raise Forbidden("This needs a merchant account")
        return self.tenant

    def sees_store(self, store_id: int) -> bool:
        return self.store_ids is None or store_id in self.store_ids

    def require_store(self, store_id: int) -> None:
        """Store roles touching another store get 404, as if it did not exist."""
        if not self.sees_store(store_id):
            raise NotFound("No such store")

    @staticmethod
    def store_scope_for(role: Role, assigned: frozenset[int]) -> frozenset[int] | None:
        return assigned if role in STORE_SCOPED_ROLES else None
