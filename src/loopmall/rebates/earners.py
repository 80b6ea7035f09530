"""Who the ledger's earners are, for lists and exports: a store, a staff member or a
customer, by public id and name — read in one query per kind, tenant-scoped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.errors import NotFound
from loopmall.core.tenancy import Tenant
from loopmall.core.valueset import one_of
from loopmall.customers.models import Customer
from loopmall.merchants.models import Store
from loopmall.rebates.rules import EarnerKind
from loopmall.staff.models import Staff

# Three tables with the same shape for this purpose: id, public_id, merchant_id, a name.
_TABLES: dict[EarnerKind, Any] = {
    EarnerKind.STORE: Store,
    EarnerKind.STAFF: Staff,
    EarnerKind.CUSTOMER: Customer,
}


@dataclass(frozen=True, slots=True)
class EarnerView:
    kind: str
    public_id: str
    name: str


async def describe(
    session: AsyncSession, tenant: Tenant, keys: Iterable[tuple[str, int | None]]
) -> dict[tuple[str, int], EarnerView]:
    """Public id and name of each (kind, id); unknown ones are left out."""
    wanted: dict[EarnerKind, set[int]] = {}
    for kind, ident in keys:
        if ident is not None:
            wanted.setdefault(EarnerKind(kind), set()).add(ident)
    found: dict[tuple[str, int], EarnerView] = {}
    for kind, ids in wanted.items():
        table = _TABLES[kind]
        name = table.display_name if table is Customer else table.name
        rows = await session.execute(
            select(table.id, table.public_id, name).where(
                table.merchant_id == tenant.id, one_of(table.id, ids)
            )
        )
        for ident, public_id, label in rows.all():
            found[(kind.value, ident)] = EarnerView(kind.value, public_id, label or "")
    return found


async def resolve(
    session: AsyncSession, tenant: Tenant, kind: EarnerKind, public_id: str, field: str = "earner"
) -> int:
    """The internal id of an earner named by public id; NotFound (naming ``field``, the
    parameter that named it) for none or another merchant's."""
    table = _TABLES[kind]
    found = await session.scalar(
        select(table.id).where(table.merchant_id == tenant.id, table.public_id == public_id)
    )
    if found is None:
        raise NotFound(f"No such {kind.value}", field=field)
    return int(found)


def kind_of_public_id(public_id: str) -> EarnerKind | None:
    """Public ids carry their kind as a prefix (``st_``, ``stf_``, ``cus_``)."""
    prefix = public_id.split("_", 1)[0]
    return {"st": EarnerKind.STORE, "stf": EarnerKind.STAFF, "cus": EarnerKind.CUSTOMER}.get(prefix)
