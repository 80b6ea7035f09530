"""The consumer's mall: home from the merchant's blocks, categories, a category's products,
and the product page with its SKU picker. Everything here only reads; the add-to-cart form
on the product page posts to the orders domain (``POST /m/{slug}/cart/items``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from loopmall.catalog import shelf
from loopmall.catalog.categories import category_tree
from loopmall.catalog.repository import category_by_public_id
from loopmall.core.http import read_uow
from loopmall.core.uow import UnitOfWork
from loopmall.customers.mall_page import VisitorPage, mall_visitor
from loopmall.inventory.repository import sellable_stock
from loopmall.members.service import is_member, member_prices
from loopmall.merchants.blocks import parse_blocks
from loopmall.merchants.hours import describe
from loopmall.merchants.mall import get_mall_settings
from loopmall.merchants.stores import list_stores

router = APIRouter(include_in_schema=False)

STORE_LOCATOR_LIMIT = 20


@dataclass(frozen=True)
class Section:
    kind: str
    title: str
    data: dict[str, Any]


async def _sections(uow: UnitOfWork, tenant: Any, raw_blocks: Any) -> list[Section]:
    sections: list[Section] = []
    for block in parse_blocks(raw_blocks):
        data: dict[str, Any] = {}
        if block.type == "banner":
            data = {"image_url": block.image_url, "link": block.link}
        elif block.type == "product_grid":
            data = {
                "products": await shelf.window(
                    uow.session, tenant, category_public_id=block.category_id, limit=block.limit
                ),
                "category_id": block.category_id,
            }
        elif block.type == "article":
            data = {"paragraphs": [p for p in block.body.split("\n") if p.strip()]}
        elif block.type == "store_locator":
            stores, _next = await list_stores(
                uow.session, tenant, status="open", limit=STORE_LOCATOR_LIMIT
            )
            data = {
                "stores": [
                    {
                        "name": s.name,
                        "address": " ".join(x for x in (s.city, s.district, s.address) if x),
                        "phone": s.phone,
                        "hours": describe(s.opening_hours or {}),
                        "pickup": s.pickup_enabled,
                        "map": (
                            f"https://uri.amap.com/marker?position={s.longitude},{s.latitude}"
                            if s.latitude is not None and s.longitude is not None
                            else None
                        ),
                    }
                    for s in stores
                ]
            }
        # coupon_strip: promotions are a later capability; the strip says none are open yet.
        sections.append(Section(block.type, block.title, data))
    return sections


@router.get("/m/{slug}/", response_class=HTMLResponse)
async def home(
    page: VisitorPage = Depends(mall_visitor), uow: UnitOfWork = Depends(read_uow)
) -> HTMLResponse:
    settings = await get_mall_settings(uow.session, page.tenant)
    sections = await _sections(uow, page.tenant, settings.blocks)
    return page.render("storefront/home.html", {"sections": sections}, tab="home")


@router.get("/m/{slug}/categories", response_class=HTMLResponse)
async def categories(
    page: VisitorPage = Depends(mall_visitor), uow: UnitOfWork = Depends(read_uow)
) -> HTMLResponse:
    tree = await category_tree(uow.session, page.tenant)
    return page.render("storefront/categories.html", {"tree": tree}, tab="categories")


@router.get("/m/{slug}/c/{category_id}", response_class=HTMLResponse)
async def category(
    category_id: str,
    page: VisitorPage = Depends(mall_visitor),
    uow: UnitOfWork = Depends(read_uow),
) -> HTMLResponse:
    tenant = page.tenant
    found = await category_by_public_id(uow.session, tenant, category_id)
    products = await shelf.window(uow.session, tenant, category_public_id=category_id, limit=40)
    return page.render(
        "storefront/category.html", {"category": found, "products": products}, tab="categories"
    )


@router.get("/m/{slug}/p/{product_id}", response_class=HTMLResponse)
async def product(
    product_id: str, page: VisitorPage = Depends(mall_visitor), uow: UnitOfWork = Depends(read_uow)
) -> HTMLResponse:
    tenant, shopper = page.tenant, page.customer
    item = await shelf.product_page(uow.session, tenant, product_id)
    member = shopper is not None and await is_member(uow.session, tenant, shopper.customer_id)
    if member:  # "member" then says whether a member price applies to this product
        priced = await member_prices(uow.session, tenant, item.skus)
        member = any(p.price < s.price for p, s in zip(priced, item.skus, strict=True))
        item.skus = priced
    stock = await sellable_stock(uow.session, tenant, [s.id for s in item.skus])
    picker = [
        {
            "sku": s.public_id,
            "options": s.options,
            "price": s.price,
            "wechat_price": s.wechat_price,
            "online": stock[s.id].online,
            "in_stores": stock[s.id].in_stores,
        }
        for s in item.skus
    ]
    option_values = {
        name: list(dict.fromkeys(s.options.get(name, "") for s in item.skus))
        for name in item.option_names
    }
    return page.render(
        "storefront/product.html",
        {
            "product": item,
            "picker": picker,
            "option_values": option_values,
            "shopper": shopper,
            "login_url": page.login_href(),
            "member": member,
        },
        tab="home",
    )
