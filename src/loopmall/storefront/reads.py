"""What the mall's pages show that is the same for every visitor, as plain JSON data.

Each function takes the session, the tenant and ids only, and returns lists and mappings
of str, int, bool and None, so a per-merchant read cache can keep the result as it is
(issue #13); what differs per visitor (the member price, the login state) is applied to it
afterwards by the page. Each reads a fixed number of statements, as columns: the home page
four whatever its blocks (the settings, every grid's products at once, their SKUs and
prices, the open stores), a category page three, the categories page one, a product three
and its stock one.
"""

from __future__ import annotations

from typing import Any, TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog import shelf
from loopmall.catalog.categories import CategoryTitle, mall_category
from loopmall.catalog.shelf import Grid, ShelfCard
from loopmall.core.tenancy import Tenant
from loopmall.inventory.repository import shelf_stock
from loopmall.merchants.blocks import ProductGridBlock, parse_blocks
from loopmall.merchants.mall import get_mall_settings
from loopmall.merchants.stores import StoreListing, open_store_listings

STORE_LOCATOR_LIMIT = 20
CATEGORY_PAGE_LIMIT = 40


class HomeSection(TypedDict):
    kind: str  # the block's type
    title: str
    data: dict[str, Any]  # what the block's part of home.html reads


class CategoryShelf(TypedDict):
    category: CategoryTitle
    products: list[ShelfCard]


class PickerStock(TypedDict):
    online: int
    in_stores: int


def _store_entry(store: StoreListing) -> dict[str, Any]:
    lat, lng = store["latitude"], store["longitude"]
    return {
        "id": store["id"],
        "name": store["name"],
        "address": store["address"],
        "phone": store["phone"],
        "hours": store["hours"],
        "pickup": store["pickup"],
        "map": (
            f"https://uri.amap.com/marker?position={lng},{lat}"
            if lat is not None and lng is not None
            else None
        ),
    }


async def home_sections(session: AsyncSession, tenant: Tenant) -> list[HomeSection]:
    """The mall home's blocks in order, each with what it shows: at most four statements
    however many blocks, products, SKUs and stores."""
    settings = await get_mall_settings(session, tenant)
    blocks = parse_blocks(settings.blocks)
    grids = [b for b in blocks if isinstance(b, ProductGridBlock)]
    cards = iter(
        await shelf.windows(session, tenant, [Grid(g.category_id, g.limit) for g in grids])
    )
    stores: list[dict[str, Any]] = []
    if any(b.type == "store_locator" for b in blocks):
        listed = await open_store_listings(session, tenant, limit=STORE_LOCATOR_LIMIT)
        stores = [_store_entry(s) for s in listed]
    sections: list[HomeSection] = []
    for block in blocks:
        data: dict[str, Any] = {}
        if isinstance(block, ProductGridBlock):
            data = {"products": next(cards), "category_id": block.category_id}
        elif block.type == "banner":
            data = {"image_url": block.image_url, "link": block.link}
        elif block.type == "article":
            data = {"paragraphs": [p for p in block.body.split("\n") if p.strip()]}
        elif block.type == "store_locator":
            data = {"stores": stores}
        # coupon_strip: promotions are a later capability; the strip says none are open yet.
        sections.append(HomeSection(kind=block.type, title=block.title, data=data))
    return sections


async def category_shelf(
    session: AsyncSession, tenant: Tenant, category_public_id: str
) -> CategoryShelf:
    """The category and its newest products on sale online (and those of the categories
    below it): three statements. Raises NotFound for an unknown category."""
    category = await mall_category(session, tenant, category_public_id)
    products = await shelf.window(
        session, tenant, category_public_id=category_public_id, limit=CATEGORY_PAGE_LIMIT
    )
    return CategoryShelf(category=category, products=products)


async def picker_stock(
    session: AsyncSession, tenant: Tenant, sku_ids: list[int]
) -> dict[str, PickerStock]:
    """Free units of each SKU online and in stores, by SKU id as a string (JSON object
    keys are strings): one statement."""
    return {
        str(row["sku_id"]): PickerStock(online=row["online"], in_stores=row["in_stores"])
        for row in await shelf_stock(session, tenant, sku_ids)
    }
