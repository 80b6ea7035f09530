"""The mall's catalog as JSON, under ``/api/v1/mall/{slug}/`` (a mini-program reads it):
``categories`` (the tree), ``products`` (a page of cards, newest first, optionally of a
category and the ones below it) and ``products/{product}`` (SKUs, prices, stock online and
in stores). Built on the same reads as the mall pages (``storefront.reads``), so each is a
fixed number of statements; the tree and a product come through the same read cache
(``storefront.cached``), a page of products does not (its cursors would be unbounded keys).
Anyone who may open the mall may read them; a signed-in member sees member prices on a
product.

It lives in storefront, not catalog: a product's answer joins the catalog's, inventory's
and members' reads, and both of those import catalog.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query

from loopmall.catalog import shelf
from loopmall.catalog.categories import mall_category
from loopmall.catalog.schemas import PUBLIC_ID_PATTERN
from loopmall.core.errors import ValidationFailed
from loopmall.core.http import read_uow
from loopmall.core.pagination import Page, decode_cursor, encode_cursor
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.customers.deps import Shopper, optional_shopper
from loopmall.customers.service import tenant_for_slug
from loopmall.identity.guards import PUBLIC
from loopmall.storefront import cached
from loopmall.storefront.schemas import (
    MallCategoryOut,
    MallProductOut,
    ProductCardOut,
    card_out,
    category_out,
    product_out,
)
from loopmall.storefront.visitor import priced_for

router = APIRouter(prefix="/mall/{slug}", tags=["mall catalog"])

PRODUCTS_LIMIT = 50
SLUG = Path(..., max_length=64)


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: _problem("A bearer token was sent and is not valid"),
    404: _problem("No such mall, category, or product on sale online in this mall"),
    422: _problem("A bad `category`, `cursor` or `limit`"),
}


def _before(cursor: str | None) -> int | None:
    """The product id a cursor says the next page starts below."""
    if not cursor:
        return None
    after = decode_cursor(cursor)
    if not isinstance(after, int) or isinstance(after, bool) or not 0 < after < 2**63:
        raise ValidationFailed("The cursor is not valid", field="cursor")
    return after


@router.get(
    "/categories",
    response_model=list[MallCategoryOut],
    responses=PROBLEMS,
    dependencies=[PUBLIC],
)
async def mall_categories(
    slug: str = SLUG, uow: UnitOfWork = Depends(read_uow)
) -> list[MallCategoryOut]:
    """The mall's categories as a tree, siblings in the merchant's order."""
    tenant = await tenant_for_slug(uow.session, slug)
    return [category_out(b) for b in await cached.category_tree(uow.session, tenant)]


@router.get(
    "/products", response_model=Page[ProductCardOut], responses=PROBLEMS, dependencies=[PUBLIC]
)
async def mall_products(
    slug: str = SLUG,
    category: str | None = Query(
        None, pattern=PUBLIC_ID_PATTERN, description="only this category and those below it"
    ),
    cursor: PlainText | None = Query(None, max_length=200),
    limit: int = Query(20, ge=1, le=PRODUCTS_LIMIT),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[ProductCardOut]:
    """A page of the products on sale online, newest first, and the cursor to the next."""
    tenant = await tenant_for_slug(uow.session, slug)
    before = _before(cursor)
    if category is not None:
        await mall_category(uow.session, tenant, category)  # 404 for an unknown one
    cards = await shelf.window(
        uow.session, tenant, category_public_id=category, limit=limit + 1, before_id=before
    )
    next_cursor = encode_cursor(cards[limit - 1]["id"]) if len(cards) > limit else None
    return Page[ProductCardOut](items=[card_out(c) for c in cards[:limit]], next_cursor=next_cursor)


@router.get("/products/{product}", response_model=MallProductOut, responses=PROBLEMS)
async def mall_product(
    slug: str = SLUG,
    product: str = Path(..., max_length=64, description="Public id of the product"),
    shopper: Shopper | None = Depends(optional_shopper),
    uow: UnitOfWork = Depends(read_uow),
) -> MallProductOut:
    """One product on sale online: its SKUs with their prices (a member's, for a member)
    and free units online and in stores. 404 for another merchant's product, an unknown,
    unpublished or archived one, and one not sold online."""
    tenant = shopper.tenant if shopper is not None else await tenant_for_slug(uow.session, slug)
    item, stock = await cached.product_page(uow.session, tenant, product)
    customer_id = shopper.customer_id if shopper is not None else None
    item, member = await priced_for(uow.session, tenant, customer_id, item)
    return product_out(item, stock, member)
