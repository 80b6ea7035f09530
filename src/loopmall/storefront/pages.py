"""The consumer's mall: home from the merchant's blocks, categories, a category's products,
and the product page with its SKU picker. Everything here only reads; the add-to-cart form
on the product page posts to the orders domain (``POST /m/{slug}/cart/items``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from loopmall.core.http import read_uow
from loopmall.core.uow import UnitOfWork
from loopmall.customers.mall_page import VisitorPage, mall_visitor
from loopmall.storefront import cached
from loopmall.storefront.visitor import priced_for

router = APIRouter(include_in_schema=False)


@router.get("/m/{slug}/", response_class=HTMLResponse)
async def home(
    page: VisitorPage = Depends(mall_visitor), uow: UnitOfWork = Depends(read_uow)
) -> HTMLResponse:
    sections = await cached.home_sections(uow.session, page.tenant)
    return page.render("storefront/home.html", {"sections": sections}, tab="home")


@router.get("/m/{slug}/categories", response_class=HTMLResponse)
async def categories(
    page: VisitorPage = Depends(mall_visitor), uow: UnitOfWork = Depends(read_uow)
) -> HTMLResponse:
    tree = await cached.category_tree(uow.session, page.tenant)
    return page.render("storefront/categories.html", {"tree": tree}, tab="categories")


@router.get("/m/{slug}/c/{category_id}", response_class=HTMLResponse)
async def category(
    category_id: str,
    page: VisitorPage = Depends(mall_visitor),
    uow: UnitOfWork = Depends(read_uow),
) -> HTMLResponse:
    found = await cached.category_shelf(uow.session, page.tenant, category_id)
    return page.render("storefront/category.html", dict(found), tab="categories")


@router.get("/m/{slug}/p/{product_id}", response_class=HTMLResponse)
async def product(
    product_id: str, page: VisitorPage = Depends(mall_visitor), uow: UnitOfWork = Depends(read_uow)
) -> HTMLResponse:
    tenant, shopper = page.tenant, page.customer
    # The same for every visitor: the product and its stock.
    item, stock = await cached.product_page(uow.session, tenant, product_id)
    # This visitor's: a member sees member prices ("member" says whether one applies).
    customer_id = shopper.customer_id if shopper is not None else None
    item, member = await priced_for(uow.session, tenant, customer_id, item)
    picker = [
        {
            "sku": s.public_id,
            "options": s.options,
            # "黑 / M": what the buy bar and the script-free SKU list show.
            "label": " / ".join(s.options.get(name, "") for name in item.option_names),
            "price": s.price,
            "wechat_price": s.wechat_price,
            "online": stock[str(s.id)]["online"],
            "in_stores": stock[str(s.id)]["in_stores"],
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
