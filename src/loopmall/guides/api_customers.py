"""guides: the console side of the JSON API (under /api/v1/guides): customers and their
tags, the merchant's guide settings, the guides with their customer counts, hand-over."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query

from loopmall.attribution import service as attribution
from loopmall.core.errors import ValidationFailed
from loopmall.core.http import read_uow, write_uow
from loopmall.core.pagination import Page, decode_cursor, encode_cursor
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.guides import customers, staffing, views
from loopmall.guides.access import PROBLEMS, WORK, actor_of, path_id, viewer_of
from loopmall.guides.schemas import (
    CustomerOut,
    GuideOut,
    HandOverIn,
    HandOverOut,
    OrderBrief,
    ProfileOut,
    SettingsIn,
    SettingsOut,
    TagIn,
)
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal

work_router = APIRouter(prefix="/guides", tags=["guides"])


@work_router.get("/customers", response_model=Page[CustomerOut], responses=PROBLEMS)
async def my_customers(
    cursor: PlainText | None = Query(None, max_length=200),
    limit: int = Query(customers.CUSTOMER_PAGE, ge=1, le=200),
    principal: Principal = Depends(require(Perm.CUSTOMERS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[CustomerOut]:
    """A page of bound customers, newest binding first: a guide's own, a store manager's
    stores', or all."""
    rows, next_cursor = await customers.customers_page(
        uow.session, principal.require_tenant(), viewer_of(principal), cursor=cursor, limit=limit
    )
    items = [
        CustomerOut(
            id=r.customer.public_id,
            name=r.customer.display_name,
            phone=r.customer.phone,
            tags=r.tags,
            source=r.source,
        )
        for r in rows
    ]
    return Page[CustomerOut](items=items, next_cursor=next_cursor)


async def _customer(uow: UnitOfWork, principal: Principal, public_id: str) -> Any:
    tenant = principal.require_tenant()
    customer = await customers.customer_by_public_id(uow.session, tenant, public_id)
    await customers.check_access(uow.session, tenant, viewer_of(principal), customer.id)
    return customer


@work_router.get("/customers/{customer}", response_model=ProfileOut, responses=PROBLEMS)
async def customer_profile(
    customer: str = path_id(),
    principal: Principal = Depends(require(Perm.CUSTOMERS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> ProfileOut:
    """A customer's profile: tags, orders, holds, fittings. Another guide's or another
    store's customer is 404 ``customer_not_found``."""
    tenant = principal.require_tenant()
    found = await _customer(uow, principal, customer)
    p = await customers.profile(uow.session, tenant, found)
    return ProfileOut(
        customer=CustomerOut(
            id=found.public_id, name=found.display_name, phone=found.phone, tags=p.tags
        ),
        order_count=p.order_count,
        spent_fen=p.spent_fen,
        orders=[
            OrderBrief(
                id=o.public_id,
                number=o.number,
                kind=o.kind,
                status=o.status,
                total_fen=o.total_fen,
                created_at=o.created_at,
            )
            for o in p.orders
        ],
        holds=await views.holds_out(uow.session, p.holds),
        fittings=await views.fittings_out(uow.session, p.fittings),
    )


@work_router.post("/customers/{customer}/tags", response_model=list[str], responses=PROBLEMS)
async def add_tag(
    data: TagIn,
    customer: str = path_id(),
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(write_uow),
) -> list[str]:
    found = await _customer(uow, principal, customer)
    tags = await customers.add_tag(
        uow.session, principal.require_tenant(), found.id, data.tag, staff_id=principal.staff_id
    )
    await uow.commit()
    return tags


@work_router.delete("/customers/{customer}/tags/{tag}", status_code=204, responses=PROBLEMS)
async def remove_tag(
    customer: str = path_id(),
    tag: PlainText = Path(..., min_length=1, max_length=30),
    principal: Principal = Depends(WORK),
    uow: UnitOfWork = Depends(write_uow),
) -> None:
    found = await _customer(uow, principal, customer)
    await customers.remove_tag(uow.session, principal.require_tenant(), found.id, tag)
    await uow.commit()


@work_router.get("/settings", response_model=SettingsOut, responses=PROBLEMS)
async def get_settings(
    principal: Principal = Depends(WORK), uow: UnitOfWork = Depends(read_uow)
) -> SettingsOut:
    row = await staffing.get_settings(uow.session, principal.require_tenant())
    return SettingsOut(max_hold_seconds=row.max_hold_seconds, slot_minutes=row.slot_minutes)


@work_router.put("/settings", response_model=SettingsOut, responses=PROBLEMS)
async def put_settings(
    data: SettingsIn,
    principal: Principal = Depends(require(Perm.STAFF_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> SettingsOut:
    """The longest hold a guide may place (1 h – 7 days) and the fitting slot length."""
    row = await staffing.update_settings(
        uow.session,
        principal.require_tenant(),
        max_hold_seconds=data.max_hold_seconds,
        slot_minutes=data.slot_minutes,
    )
    await uow.commit()
    return SettingsOut(max_hold_seconds=row.max_hold_seconds, slot_minutes=row.slot_minutes)


@work_router.get("/staff", response_model=Page[GuideOut], responses=PROBLEMS)
async def list_guides(
    cursor: PlainText | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
    principal: Principal = Depends(require(Perm.STAFF_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[GuideOut]:
    """A page of the merchant's guides (by id) with their store and bound-customer count."""
    tenant = principal.require_tenant()
    after = decode_cursor(cursor) if cursor else 0
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
        raise ValidationFailed("The cursor is not valid", field="cursor")
    rows = await staffing.guides_page(
        uow.session, tenant, store_ids=principal.store_ids, after_id=after, limit=limit + 1
    )
    next_cursor = encode_cursor(rows[limit - 1].staff.id) if len(rows) > limit else None
    rows = rows[:limit]
    counts = await attribution.bound_counts_of(uow.session, tenant, [g.staff.id for g in rows])
    items = [
        GuideOut(
            id=g.staff.public_id,
            name=g.staff.name,
            role=g.staff.role,
            store=g.store.public_id if g.store else None,
            store_name=g.store.name if g.store else None,
            customers=counts.get(g.staff.id, 0),
        )
        for g in rows
    ]
    return Page[GuideOut](items=items, next_cursor=next_cursor)


@work_router.post("/hand-over", response_model=HandOverOut, responses=PROBLEMS)
async def hand_over(
    data: HandOverIn,
    principal: Principal = Depends(require(Perm.ATTRIBUTION_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> HandOverOut:
    """A guide leaves: their customers, open conversations, active holds and booked
    fittings move to another guide."""
    tenant = principal.require_tenant()
    leaving = await staffing.staff_by_public_id(uow.session, tenant, data.from_guide)
    taking = await staffing.staff_by_public_id(uow.session, tenant, data.to_guide)
    done = await customers.hand_over(
        uow.session,
        tenant,
        from_staff_id=leaving.id,
        to_staff_id=taking.id,
        actor=actor_of(principal),
    )
    await uow.commit()
    return HandOverOut(
        customers=done.customers,
        conversations=done.conversations,
        holds=done.holds,
        fittings=done.fittings,
    )
