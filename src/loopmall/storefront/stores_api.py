"""The mall's stores as JSON, under ``/api/v1/mall/{slug}/``: ``stores`` (a page of open
stores, by name or nearest first) and ``stores/{store}`` (one open store with its week and
its guides). Public: anyone who may open the mall may read them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from loopmall.core import clock
from loopmall.core.http import read_uow
from loopmall.core.pagination import Page
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import tenant_for_slug
from loopmall.identity.guards import PUBLIC
from loopmall.merchants.store_reads import (
    PAGE_LIMIT,
    open_store,
    open_stores_page,
    parse_near,
    week,
)
from loopmall.storefront.stores import STORE, guides_out, shown, store_guides

router = APIRouter(prefix="/mall/{slug}", tags=["mall stores"], dependencies=[PUBLIC])

SLUG = Path(..., max_length=64)
PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such mall, or no such open store in it"},
    422: {"description": "A bad `near`, `cursor` or `limit`"},
}


class MallStoreOut(BaseModel):
    id: str
    name: str
    address: str = Field(description="city, district and street")
    phone: str
    phone_href: str | None = Field(description="a tel: link, or none")
    map: str | None = Field(description="a marker on a web map, when the store gave coordinates")
    pickup: bool = Field(description="orders may be picked up here (自提)")
    hours_given: bool = Field(description="false: the store has not given its hours")
    today: list[str] = Field(description='today\'s spans in Asia/Shanghai, "10:00-22:00"')
    open_now: bool
    distance_m: int | None = Field(description="metres from `near`, when given and known")


class DaySpans(BaseModel):
    day: str = Field(description="mon … sun")
    spans: list[str] = Field(description="empty: not open that day")


class StoreGuideOut(BaseModel):
    id: str
    name: str
    chat: str = Field(description="the mall page to chat with this guide")


class MallStoreDetailOut(MallStoreOut):
    week: list[DaySpans]
    guides: list[StoreGuideOut]


@router.get("/stores", response_model=Page[MallStoreOut], responses=PROBLEMS)
async def list_mall_stores(
    slug: str = SLUG,
    q: PlainText | None = Query(None, max_length=50, description="name, city or district"),
    near: PlainText | None = Query(None, max_length=60, description="lat,lng: nearest first"),
    cursor: PlainText | None = Query(None, max_length=200),
    limit: int = Query(20, ge=1, le=PAGE_LIMIT),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[MallStoreOut]:
    """A page of the mall's open stores, by name, or nearest to ``near`` first."""
    tenant = await tenant_for_slug(uow.session, slug)
    point = parse_near(near)
    found = await open_stores_page(uow.session, tenant, q=q, near=point, cursor=cursor, limit=limit)
    now = clock.now()
    items = [MallStoreOut(**shown(s, point, now)) for s in found.stores]
    return Page[MallStoreOut](items=items, next_cursor=found.next_cursor)


@router.get("/stores/{store}", response_model=MallStoreDetailOut, responses=PROBLEMS)
async def get_mall_store(
    slug: str = SLUG,
    store: str = STORE,
    uow: UnitOfWork = Depends(read_uow),
) -> MallStoreDetailOut:
    """One open store of the mall: its hours for the week, its guides to chat with."""
    tenant = await tenant_for_slug(uow.session, slug)
    found = await open_store(uow.session, tenant, store)
    guides = await store_guides(uow, tenant, found)
    return MallStoreDetailOut(
        **shown(found, None, clock.now()),
        week=[DaySpans(day=day, spans=spans) for day, spans in week(found.hours)],
        guides=[StoreGuideOut(**g) for g in guides_out(tenant.slug, guides)],
    )
