"""JSON routes of the catalog: categories, products, SKUs, channel prices and quotes.

Image routes are in :mod:`loopmall.catalog.api_images` and included here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from loopmall.catalog import categories, prices, service
from loopmall.catalog.api_images import router as images_router
from loopmall.catalog.api_shared import (
    READ_PROBLEMS,
    WRITE_PROBLEMS,
    problem,
    product_id_param,
    sku_id_param,
)
from loopmall.catalog.pricing import Channel
from loopmall.catalog.schemas import (
    PUBLIC_ID_PATTERN,
    CategoryIn,
    CategoryNodeOut,
    CategoryOut,
    CategoryPatch,
    ChannelPriceIn,
    ProductFilter,
    ProductIn,
    ProductOut,
    ProductPatch,
    ProductStatus,
    ProductSummaryOut,
    QuoteOut,
    SkuIn,
    SkuOut,
    SkuPatch,
)
from loopmall.catalog.views import category_out, node_out, product_out, sku_out, summary_out
from loopmall.core.http import read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import MAX_LIMIT, Page
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal

router = APIRouter(tags=["catalog"])

# Free text from a query string: anything printable.


# ---------------------------------------------------------------------------- categories


@router.get("/categories", response_model=list[CategoryNodeOut], responses=READ_PROBLEMS)
async def list_categories(
    principal: Principal = Depends(require(Perm.CATALOG_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> list[CategoryNodeOut]:
    """The merchant's categories as a tree."""
    tree = await categories.category_tree(uow.session, principal.require_tenant())
    return [node_out(n) for n in tree]


@router.post("/categories", status_code=201, response_model=CategoryOut, responses=WRITE_PROBLEMS)
async def create_category(
    body: CategoryIn,
    request: Request,
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Any:
    """Add a category (optionally under a parent of the same merchant)."""
    tenant = principal.require_tenant()

    async def work() -> CategoryOut:
        category = await categories.create_category(uow.session, tenant, body)
        return category_out(category, body.parent)

    return await run_idempotent(request, uow, principal.scope, work)


@router.patch("/categories/{category_id}", response_model=CategoryOut, responses=WRITE_PROBLEMS)
async def update_category(
    body: CategoryPatch,
    category_id: str = Path(..., pattern=PUBLIC_ID_PATTERN),
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> CategoryOut:
    """Rename, reorder or move a category."""
    node = await categories.update_category(
        uow.session, principal.require_tenant(), category_id, body
    )
    await uow.commit()
    return category_out(node.category, node.parent_public_id)


# ---------------------------------------------------------------------------- products


@router.get("/products", response_model=Page[ProductSummaryOut], responses=READ_PROBLEMS)
async def list_products(
    q: PlainText | None = Query(None, max_length=100),
    category: str | None = Query(None, pattern=PUBLIC_ID_PATTERN),
    status: ProductStatus | None = Query(None),
    tag: PlainText | None = Query(None, max_length=20),
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    principal: Principal = Depends(require(Perm.CATALOG_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[ProductSummaryOut]:
    """The merchant's products, oldest first, by cursor; ``q`` searches titles and SKU
    codes/barcodes, ``category`` includes its subcategories."""
    filters = ProductFilter(
        q=(q or "").strip() or None, category=category, status=status, tag=tag or None
    )
    rows, next_cursor = await service.list_products(
        uow.session, principal.require_tenant(), filters, cursor=cursor, limit=limit
    )
    return Page[ProductSummaryOut](items=[summary_out(r) for r in rows], next_cursor=next_cursor)


@router.post("/products", status_code=201, response_model=ProductOut, responses=WRITE_PROBLEMS)
async def create_product(
    body: ProductIn,
    request: Request,
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Any:
    """Create a product with its SKUs. Send ``Idempotency-Key`` to retry safely."""
    tenant = principal.require_tenant()

    async def work() -> ProductOut:
        return product_out(await service.create_product(uow.session, tenant, body))

    return await run_idempotent(request, uow, principal.scope, work)


@router.get("/products/{product_id}", response_model=ProductOut, responses=READ_PROBLEMS)
async def get_product(
    product_id: str = product_id_param(),
    principal: Principal = Depends(require(Perm.CATALOG_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> ProductOut:
    """A product with its SKUs, channel prices and images."""
    detail = await service.get_product(uow.session, principal.require_tenant(), product_id)
    return product_out(detail)


@router.patch("/products/{product_id}", response_model=ProductOut, responses=WRITE_PROBLEMS)
async def update_product(
    body: ProductPatch,
    product_id: str = product_id_param(),
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> ProductOut:
    """Change a product's fields; only the fields sent change."""
    detail = await service.update_product(uow.session, principal.require_tenant(), product_id, body)
    await uow.commit()
    return product_out(detail)


@router.post(
    "/products/{product_id}/skus",
    status_code=201,
    response_model=SkuOut,
    responses=WRITE_PROBLEMS,
)
async def add_sku(
    body: SkuIn,
    request: Request,
    product_id: str = product_id_param(),
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Any:
    """Add a SKU to a product."""
    tenant = principal.require_tenant()

    async def work() -> SkuOut:
        return sku_out(await service.add_sku(uow.session, tenant, product_id, body))

    return await run_idempotent(request, uow, principal.scope, work)


# ---------------------------------------------------------------------------- SKUs


@router.get("/skus/{sku_id}", response_model=SkuOut, responses=READ_PROBLEMS)
async def get_sku(
    sku_id: str = sku_id_param(),
    principal: Principal = Depends(require(Perm.CATALOG_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> SkuOut:
    """A SKU with its channel prices."""
    return sku_out(await service.get_sku(uow.session, principal.require_tenant(), sku_id))


@router.patch("/skus/{sku_id}", response_model=SkuOut, responses=WRITE_PROBLEMS)
async def update_sku(
    body: SkuPatch,
    sku_id: str = sku_id_param(),
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> SkuOut:
    """Change a SKU; ``{"status": "inactive"}`` takes it off sale."""
    detail = await service.update_sku(uow.session, principal.require_tenant(), sku_id, body)
    await uow.commit()
    return sku_out(detail)


@router.put("/skus/{sku_id}/prices", response_model=SkuOut, responses=WRITE_PROBLEMS)
async def set_channel_price(
    body: ChannelPriceIn,
    sku_id: str = sku_id_param(),
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> SkuOut:
    """Set the SKU's price (and member price) in one channel: ``online``, ``wechat``
    (微信价) or ``store`` with ``store``: a store's public id."""
    detail = await prices.set_channel_price(uow.session, principal.require_tenant(), sku_id, body)
    await uow.commit()
    return sku_out(detail)


@router.delete(
    "/skus/{sku_id}/prices",
    status_code=204,
    response_class=Response,
    responses=WRITE_PROBLEMS,
)
async def clear_channel_price(
    sku_id: str = sku_id_param(),
    channel: Channel = Query(...),
    store: str | None = Query(None, pattern=PUBLIC_ID_PATTERN),
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """Remove the SKU's price in one channel (the next price level applies again)."""
    await prices.clear_channel_price(
        uow.session, principal.require_tenant(), sku_id, channel, store
    )
    await uow.commit()
    return Response(status_code=204)


@router.get(
    "/skus/{sku_id}/quote",
    response_model=QuoteOut,
    responses=READ_PROBLEMS
    | {
        422: problem(
            "`not_sold_in_channel` (online-only or store-only item), `not_for_sale`, "
            "`validation_failed`"
        )
    },
)
async def quote_sku(
    sku_id: str = sku_id_param(),
    channel: Channel = Query(..., description="online, wechat or store"),
    store: str | None = Query(None, pattern=PUBLIC_ID_PATTERN, description="For channel=store"),
    member: bool = Query(False, description="Whether the buyer is a member"),
    principal: Principal = Depends(require(Perm.CATALOG_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> QuoteOut:
    """The price of one unit in a channel, with the rule that produced it."""
    quote = await prices.quote_sku(
        uow.session,
        principal.require_tenant(),
        sku_id,
        channel=channel,
        store_public_id=store,
        is_member=member,
    )
    return QuoteOut(
        sku=sku_id,
        channel=channel,
        store=store,
        member=member,
        amount=quote.amount,
        list_price=quote.list_price,
        rule=quote.rule,
    )


router.include_router(images_router)
