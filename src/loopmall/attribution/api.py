"""attribution: JSON routes (mounted under /api/v1): the merchant's rules, the ledger with
filters, a customer's binding and touches, moving a binding.

Store managers (``ATTRIBUTION_READ``) see only credits and customers of their stores;
another merchant's (or store's) ids answer 404.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution import repository, service, views
from loopmall.attribution.names import id_of
from loopmall.attribution.rulebook import get_rules, save_rules
from loopmall.attribution.schemas import (
    BindingIn,
    CustomerAttributionOut,
    LedgerOut,
    RulesIn,
    RulesOut,
)
from loopmall.core import clock
from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.http import read_uow, write_uow
from loopmall.core.tenancy import Tenant
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Customer
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.merchants.models import Store
from loopmall.staff.models import Staff

router = APIRouter(prefix="/attribution", tags=["attribution"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "The role may not do this"},
    404: {"description": "No such customer, store or guide (or not one of yours)"},
    422: {"description": "`attribution_rules_invalid`, `not_a_guide`, `validation_failed`"},
}
CUSTOMER = Path(..., min_length=1, max_length=48, description="customer id")
Role = Literal["store", "guide", "sharer", "upstream_sharer", "placement"]


def shanghai_day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=clock.SHANGHAI)


async def _store_id(session: AsyncSession, tenant: Tenant, public_id: str | None) -> int | None:
    if not public_id:
        return None
    found = await id_of(session, tenant, Store, public_id)
    if found is None:
        raise NotFound("No such store", store=public_id)
    return found


async def _staff_id(session: AsyncSession, tenant: Tenant, public_id: str | None) -> int | None:
    if not public_id:
        return None
    found = await id_of(session, tenant, Staff, public_id)
    if found is None:
        raise NotFound("No such guide", guide=public_id)
    return found


async def _customer_id(session: AsyncSession, principal: Principal, public_id: str) -> int:
    tenant = principal.require_tenant()
    found = await id_of(session, tenant, Customer, public_id)
    if found is None:
        raise NotFound("No such customer", customer=public_id)
    if principal.store_ids is not None:
        binding = await service.get_binding(session, tenant, found)
        if binding is None or binding.store_id not in principal.store_ids:
            raise NotFound("No such customer", customer=public_id)
    return found


@router.get("/rules", response_model=RulesOut, responses=ERRORS)
async def read_rules(
    principal: Principal = Depends(require(Perm.ATTRIBUTION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> RulesOut:
    """The merchant's attribution rules (the defaults until saved)."""
    return views.rules_out(await get_rules(uow.session, principal.require_tenant()))


@router.put("/rules", response_model=RulesOut, responses=ERRORS)
async def write_rules(
    body: RulesIn,
    principal: Principal = Depends(require(Perm.ATTRIBUTION_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> RulesOut:
    """Change any of the rules; they apply to orders credited from now on."""
    rules = await save_rules(uow.session, principal.require_tenant(), body.values())
    await uow.commit()
    return views.rules_out(rules)


@router.get("/ledger", response_model=LedgerOut, responses=ERRORS)
async def read_ledger(
    role: Role | None = Query(None),
    store: PlainText | None = Query(None, max_length=48, description="store id"),
    guide: PlainText | None = Query(None, max_length=48, description="staff id"),
    rule: str | None = Query(None, max_length=40, pattern=r"^[a-z_:]+$"),
    day_from: date | None = Query(None, alias="from", description="first day (Asia/Shanghai)"),
    day_to: date | None = Query(None, alias="to", description="last day, included"),
    cursor: PlainText | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
    principal: Principal = Depends(require(Perm.ATTRIBUTION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> LedgerOut:
    """Credits, newest first, by cursor, with per-role totals over the whole filter."""
    tenant = principal.require_tenant()
    if day_from and day_to and day_to < day_from:
        raise ValidationFailed("'to' is before 'from'", field="to")
    store_id = await _store_id(uow.session, tenant, store)
    if store_id is not None and not principal.sees_store(store_id):
        # Exactly what an unknown store answers: another store's id is not confirmed (#11).
        raise NotFound("No such store", store=store)
    filters = repository.LedgerFilter(
        role=role,
        store_id=store_id,
        guide_staff_id=await _staff_id(uow.session, tenant, guide),
        rule=rule,
        since=shanghai_day_start(day_from) if day_from else None,
        until=shanghai_day_start(day_to + timedelta(days=1)) if day_to else None,
        store_ids=principal.store_ids,
    )
    page = await repository.ledger(uow.session, tenant, filters, cursor=cursor, limit=limit)
    return await views.ledger_out(uow.session, tenant, page)


@router.get("/customers/{customer}", response_model=CustomerAttributionOut, responses=ERRORS)
async def read_customer(
    customer: str = CUSTOMER,
    principal: Principal = Depends(require(Perm.ATTRIBUTION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> CustomerAttributionOut:
    """A customer's binding (with its history of moves) and latest touches."""
    tenant = principal.require_tenant()
    customer_id = await _customer_id(uow.session, principal, customer)
    return await views.customer_attribution(uow.session, tenant, customer_id)


@router.put(
    "/customers/{customer}/binding", response_model=CustomerAttributionOut, responses=ERRORS
)
async def move_binding(
    body: BindingIn,
    customer: str = CUSTOMER,
    principal: Principal = Depends(require(Perm.ATTRIBUTION_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> CustomerAttributionOut:
    """Bind the customer to a store and/or guide, whatever the take-over rules say."""
    tenant = principal.require_tenant()
    if not body.store and not body.guide:
        raise ValidationFailed("Give a store, a guide or both", field="store")
    customer_id = await _customer_id(uow.session, principal, customer)
    store_id = await _store_id(uow.session, tenant, body.store)
    guide_id = await _staff_id(uow.session, tenant, body.guide)
    if guide_id is not None:
        await service.active_guide(uow.session, tenant, guide_id)
        stores = await service.guide_stores(uow.session, tenant, guide_id)
        if store_id is None and len(stores) == 1:
            store_id = next(iter(stores))
    await service.bind_customer(
        uow.session,
        tenant,
        customer_id,
        store_id=store_id,
        guide_staff_id=guide_id,
        source=f"staff:{principal.public_id}"[:32],
        force=True,
    )
    out = await views.customer_attribution(uow.session, tenant, customer_id)
    await uow.commit()
    return out
