"""The outside names of the ids the ledger stores: public ids and display names of orders,
stores, staff and customers, each read in one query for a whole page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant
from loopmall.customers.models import Customer
from loopmall.merchants.models import Store
from loopmall.orders.models import Order
from loopmall.staff.models import Staff


@dataclass(frozen=True, slots=True)
class Name:
    public_id: str
    label: str


@dataclass(slots=True)
class Names:
    orders: dict[int, Name] = field(default_factory=dict)
    stores: dict[int, Name] = field(default_factory=dict)
    staff: dict[int, Name] = field(default_factory=dict)
    customers: dict[int, Name] = field(default_factory=dict)

    def store(self, store_id: int | None) -> Name | None:
        return None if store_id is None else self.stores.get(store_id)

    def guide(self, staff_id: int | None) -> Name | None:
        return None if staff_id is None else self.staff.get(staff_id)

    def customer(self, customer_id: int | None) -> Name | None:
        return None if customer_id is None else self.customers.get(customer_id)


def _ids(values: Iterable[int | None]) -> list[int]:
    return sorted({v for v in values if v is not None})


async def names_for(
    session: AsyncSession,
    tenant: Tenant,
    *,
    orders: Iterable[int | None] = (),
    stores: Iterable[int | None] = (),
    staff: Iterable[int | None] = (),
    customers: Iterable[int | None] = (),
) -> Names:
    """Public ids and labels of the given ids of this merchant (unknown ids are left out)."""
    names = Names()
    if ids := _ids(orders):
        rows = await session.execute(
            select(Order.id, Order.public_id, Order.number).where(
                Order.merchant_id == tenant.id, Order.id.in_(ids)
            )
        )
        names.orders = {i: Name(p, n) for i, p, n in rows}
    if ids := _ids(stores):
        rows = await session.execute(
            select(Store.id, Store.public_id, Store.name).where(
                Store.merchant_id == tenant.id, Store.id.in_(ids)
            )
        )
        names.stores = {i: Name(p, n) for i, p, n in rows}
    if ids := _ids(staff):
        rows = await session.execute(
            select(Staff.id, Staff.public_id, Staff.name).where(
                Staff.merchant_id == tenant.id, Staff.id.in_(ids)
            )
        )
        names.staff = {i: Name(p, n) for i, p, n in rows}
    if ids := _ids(customers):
        rows = await session.execute(
            select(Customer.id, Customer.public_id, Customer.display_name).where(
                Customer.merchant_id == tenant.id, Customer.id.in_(ids)
            )
        )
        names.customers = {i: Name(p, n) for i, p, n in rows}
    return names


async def id_of(session: AsyncSession, tenant: Tenant, model: type, public_id: str) -> int | None:
    """The internal id of this merchant's ``model`` row with ``public_id``, or None."""
    found: int | None = await session.scalar(
        select(model.id).where(  # type: ignore[attr-defined]
            model.merchant_id == tenant.id,  # type: ignore[attr-defined]
            model.public_id == public_id,  # type: ignore[attr-defined]
        )
    )
    return found
