"""What the storefront's read cache forgets, and on which typed event (core.readcache,
ADR 0010). Each line empties the areas of the event's merchant right after the commit that
published it (in the process that made the change, before its answer goes out), and again
through a durable outbox subscriber."""

from __future__ import annotations

from loopmall.catalog.events import (
    CategoriesChanged,
    ProductCreated,
    ProductEdited,
    ProductPublished,
    ProductUnpublished,
    SkuPricesChanged,
)
from loopmall.core.readcache import AREAS, invalidates
from loopmall.inventory.events import StockAdjusted, StockAvailabilityChanged
from loopmall.merchants.events import (
    MallChanged,
    MerchantReactivated,
    MerchantSuspended,
    StoresChanged,
)

for product_event in (
    ProductCreated,
    ProductEdited,
    ProductPublished,
    ProductUnpublished,
    SkuPricesChanged,
    CategoriesChanged,
):
    invalidates(product_event, area="catalog")
invalidates(MallChanged, area="mall")
# Stock in stores is shown store by store: a store closed leaves that list at once.
invalidates(StoresChanged, area=("stores", "stock"))
# Between these, stock values live at most the stock TTL (readcache_stock_ttl_seconds).
invalidates(StockAvailabilityChanged, area="stock")
invalidates(StockAdjusted, area="stock")
# A suspended merchant's mall closes; one let back in opens again.
invalidates(MerchantSuspended, area=AREAS)
invalidates(MerchantReactivated, area=AREAS)
