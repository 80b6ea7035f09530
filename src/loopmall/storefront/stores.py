"""The mall's stores: the list ``/m/{slug}/stores`` (a page of open stores by name, or nearest
first when the browser gives its position as ``?near=lat,lng``; searched by name, city or
district) and the store page ``/m/{slug}/stores/{store}`` (the week's hours, address, map,
phone, pickup, and the store's guides to chat with). The stores are read by
``merchants.store_reads`` as columns, one statement per page (and one for the guides).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse

from loopmall.core import clock
from loopmall.core.http import read_uow
from loopmall.core.tenancy import Tenant
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.customers.mall_page import VisitorPage, mall_visitor
from loopmall.identity.permissions import Role
from loopmall.merchants.hours import DAYS
from loopmall.merchants.store_reads import (
    Point,
    StoreCard,
    distance_m,
    hours_now,
    parse_near,
    week,
)
from loopmall.staff.directory import StorePerson, working_in_store
from loopmall.storefront import cached

router = APIRouter(include_in_schema=False)

STORE_PAGE = 20  # stores on one page of the list
GUIDES_SHOWN = 12  # guides on a store page; the chat's own picker lists every guide
# Who a shopper may chat with: the chat (guides.pages) offers guides and store managers.
CHAT_ROLES = (Role.GUIDE, Role.STORE_MANAGER)
STORE = Path(..., max_length=40, pattern=r"^[A-Za-z0-9_]+$")


def shown(store: StoreCard, near: Point | None, now: datetime) -> dict[str, Any]:
    """What the list and the store page show of a store, now."""
    state = hours_now(store.hours, now)
    return {
        "id": store.public_id,
        "name": store.name,
        "address": store.full_address,
        "phone": store.phone,
        "phone_href": store.phone_href,
        "map": store.map_url,
        "pickup": store.pickup,
        "hours_given": state.given,
        "today": state.today,
        "open_now": state.open_now,
        "distance_m": distance_m(store, near),
    }


def guides_out(slug: str, people: list[StorePerson]) -> list[dict[str, str]]:
    return [
        {"id": p.public_id, "name": p.name, "chat": f"/m/{slug}/chat?guide={p.public_id}"}
        for p in people
    ]


async def store_guides(uow: UnitOfWork, tenant: Tenant, store: StoreCard) -> list[StorePerson]:
    return await working_in_store(
        uow.session, tenant, store.id, roles=CHAT_ROLES, limit=GUIDES_SHOWN
    )


@router.get("/m/{slug}/stores", response_class=HTMLResponse)
async def store_list(
    q: PlainText | None = Query(None, max_length=50),
    near: PlainText | None = Query(None, max_length=60),
    cursor: PlainText | None = Query(None, max_length=200),
    page: VisitorPage = Depends(mall_visitor),
    uow: UnitOfWork = Depends(read_uow),
) -> HTMLResponse:
    """A page of the mall's open stores, nearest first with ``near``."""
    point = parse_near(near)
    found = await cached.stores_page(
        uow.session, page.tenant, q=q, near=point, cursor=cursor, limit=STORE_PAGE
    )
    now = clock.now()
    keep = {k: v for k, v in (("q", q), ("near", near)) if v}
    next_href = None
    if found.next_cursor:
        next_href = f"/m/{page.slug}/stores?" + urlencode(keep | {"cursor": found.next_cursor})
    context = {
        "stores": [shown(s, point, now) for s in found.stores],
        "q": q or "",
        "near": near or "",
        "next_href": next_href,
    }
    return page.render("storefront/stores.html", context, tab="home")


@router.get("/m/{slug}/stores/{store}", response_class=HTMLResponse)
async def store_page(
    store: str = STORE,
    page: VisitorPage = Depends(mall_visitor),
    uow: UnitOfWork = Depends(read_uow),
) -> HTMLResponse:
    """One open store: the week's hours, address, map, phone, pickup, its guides."""
    found = await cached.store_card(uow.session, page.tenant, store)
    guides = await store_guides(uow, page.tenant, found)
    now = clock.now()
    context = {
        "store": shown(found, None, now),
        "week": week(found.hours),
        "today_key": DAYS[clock.local(now).weekday()],
        "guides": guides_out(page.slug, guides),
    }
    return page.render("storefront/store.html", context, tab="home")
