"""The events the catalog domain publishes: what a shopper sees of a product changed.

Each is published by the catalog's services in the transaction of the change. The
storefront's read cache forgets the merchant's catalog when one commits
(``storefront.handlers``); merchants' webhooks may follow them too.
"""

from __future__ import annotations

from pydantic import Field

from loopmall.core.events import Event


class ProductEvent(Event):
    product_id: int
    product: str = Field(description="the product's public id", examples=["prd_5v2k9q0x7mj3hd1c"])


class ProductCreated(ProductEvent):
    topic = "product.created"
    summary = "A product was created with its SKUs (on sale at once, or as a draft)."
    outward = True
    status: str = Field(description="`draft`, `active` or `archived`", examples=["active"])


class ProductEdited(ProductEvent):
    topic = "product.edited"
    summary = (
        "What a shopper sees of a product changed: its text, category, tags, options, "
        "images, or its SKUs (added, renamed, on or off sale)."
    )
    outward = True


class ProductPublished(ProductEvent):
    topic = "product.published"
    summary = "A product went on sale (its status became `active`)."
    outward = True


class ProductUnpublished(ProductEvent):
    topic = "product.unpublished"
    summary = (
        "A product went off sale: back to `draft`, or `archived` (the catalog's delete: "
        "it stays for the orders that name it)."
    )
    outward = True
    status: str = Field(description="`draft` or `archived`", examples=["archived"])


class SkuPricesChanged(Event):
    topic = "sku.prices_changed"
    summary = (
        "A SKU's prices changed: its mall price, its member price, or its price in a "
        "channel (online, 微信价, one store)."
    )
    outward = True
    sku_id: int
    sku: str = Field(description="the SKU's public id", examples=["sku_5v2k9q0x7mj3hd1c"])
    product: str = Field(description="its product's public id")


class CategoriesChanged(Event):
    topic = "catalog.categories_changed"
    summary = "A category was created, renamed, reordered or moved."
    outward = True
    category: str = Field(description="the category's public id", examples=["cat_5v2k9q0x7mj3hd1c"])
