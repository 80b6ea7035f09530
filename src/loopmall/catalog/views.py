"""Turn loaded catalog rows into the API's answers."""

from __future__ import annotations

from loopmall.catalog.categories import CategoryNode
from loopmall.catalog.images import url_for
from loopmall.catalog.models import Category, ProductImage
from loopmall.catalog.repository import ProductDetail, ProductSummary, SkuDetail
from loopmall.catalog.schemas import (
    CategoryNodeOut,
    CategoryOut,
    CategoryRef,
    ChannelPriceOut,
    ImageOut,
    ProductOut,
    ProductStatus,
    ProductSummaryOut,
    SkuOut,
    SkuStatus,
)


def category_out(category: Category, parent: str | None) -> CategoryOut:
    return CategoryOut(
        id=category.public_id, name=category.name, parent=parent, sort_order=category.sort_order
    )


def node_out(node: CategoryNode) -> CategoryNodeOut:
    c = node.category
    return CategoryNodeOut(
        id=c.public_id,
        name=c.name,
        parent=node.parent_public_id,
        sort_order=c.sort_order,
        children=[node_out(child) for child in node.children],
    )


def image_out(image: ProductImage) -> ImageOut:
    return ImageOut(
        id=image.public_id,
        url=url_for(image.path),
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        size_bytes=image.size_bytes,
        sort_order=image.sort_order,
    )


def sku_out(detail: SkuDetail) -> SkuOut:
    sku = detail.sku
    return SkuOut(
        id=sku.public_id,
        product=detail.product_public_id,
        code=sku.code,
        options=dict(sku.options),
        barcode=sku.barcode,
        price=sku.price,
        member_price=sku.member_price,
        status=SkuStatus(sku.status),
        sales_scope=sku.sales_scope,
        effective_sales_scope=detail.effective_scope,
        prices=[
            ChannelPriceOut(
                channel=row.channel,
                store=row.store_public_id,
                store_name=row.store_name,
                price=row.price,
                member_price=row.member_price,
            )
            for row in detail.prices
        ],
    )


def product_out(detail: ProductDetail) -> ProductOut:
    p = detail.product
    return ProductOut(
        id=p.public_id,
        title=p.title,
        subtitle=p.subtitle,
        description=p.description,
        category=CategoryRef(id=detail.category.public_id, name=detail.category.name)
        if detail.category
        else None,
        tags=list(p.tags),
        status=ProductStatus(p.status),
        sales_scope=p.sales_scope,
        option_names=list(p.option_names),
        skus=[sku_out(s) for s in detail.skus],
        images=[image_out(i) for i in detail.images],
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def summary_out(summary: ProductSummary) -> ProductSummaryOut:
    p = summary.product
    return ProductSummaryOut(
        id=p.public_id,
        title=p.title,
        status=ProductStatus(p.status),
        sales_scope=p.sales_scope,
        category=CategoryRef(id=summary.category.public_id, name=summary.category.name)
        if summary.category
        else None,
        tags=list(p.tags),
        sku_count=summary.sku_count,
        price_min=summary.price_min,
        price_max=summary.price_max,
        thumbnail=url_for(summary.thumbnail) if summary.thumbnail else None,
        updated_at=p.updated_at,
    )
