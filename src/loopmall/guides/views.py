"""Shaping guides' rows for the API and the pages: public ids and names looked up in a
few queries, product cards from the catalog with the store's free units."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.images import url_for
from loopmall.catalog.models import Product, ProductImage, Sku
from loopmall.catalog.schemas import ProductFilter
from loopmall.catalog.service import list_products
from loopmall.core.tenancy import Tenant
from loopmall.customers.models import Customer
from loopmall.guides.models import Conversation, Fitting, GuideHold
from loopmall.guides.schemas import (
    CardOut,
    ConversationOut,
    FittingOut,
    HoldOut,
    fitting_out,
    hold_out,
)
from loopmall.inventory.repository import free_at_store
from loopmall.merchants.models import Store
from loopmall.orders.models import Order
from loopmall.staff.models import Staff


async def _pairs(session: AsyncSession, model: Any, ids: Iterable[int | None]) -> dict[int, Any]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(model.id, model.public_id).where(model.id.in_(wanted)))
    return {row_id: public_id for row_id, public_id in rows.all()}


async def public_ids(
    session: AsyncSession, model: Any, ids: Iterable[int | None]
) -> dict[int, str]:
    """The public ids of ``model`` rows by id, in one query."""
    return await _pairs(session, model, ids)


async def holds_out(session: AsyncSession, rows: list[GuideHold]) -> list[HoldOut]:
    customers = await _pairs(session, Customer, (r.customer_id for r in rows))
    skus = await _pairs(session, Sku, (r.sku_id for r in rows))
    orders = await _pairs(session, Order, (r.order_id for r in rows))
    return [
        hold_out(
            r,
            customer=customers.get(r.customer_id, ""),
            sku=skus.get(r.sku_id, ""),
            order=orders.get(r.order_id) if r.order_id else None,
        )
        for r in rows
    ]


async def fittings_out(session: AsyncSession, rows: list[Fitting]) -> list[FittingOut]:
    customers = await _pairs(session, Customer, (r.customer_id for r in rows))
    holds = await _pairs(session, GuideHold, (r.guide_hold_id for r in rows))
    orders = await _pairs(session, Order, (r.order_id for r in rows))
    store_ids = {r.store_id for r in rows}
    stores = (
        {
            s.id: s
            for s in (await session.scalars(select(Store).where(Store.id.in_(store_ids)))).all()
        }
        if store_ids
        else {}
    )
    return [
        fitting_out(
            r,
            customer=customers.get(r.customer_id, ""),
            store=stores[r.store_id].public_id,
            store_name=stores[r.store_id].name,
            hold=holds.get(r.guide_hold_id) if r.guide_hold_id else None,
            order=orders.get(r.order_id) if r.order_id else None,
        )
        for r in rows
    ]


async def conversations_out(
    session: AsyncSession, rows: list[tuple[Conversation, Customer]], *, for_customer: bool = False
) -> list[ConversationOut]:
    staff_ids = {c.guide_staff_id for c, _ in rows}
    staff = (
        {
            s.id: s
            for s in (await session.scalars(select(Staff).where(Staff.id.in_(staff_ids)))).all()
        }
        if staff_ids
        else {}
    )
    return [
        ConversationOut(
            id=c.public_id,
            customer=k.public_id,
            customer_name=k.display_name,
            guide=staff[c.guide_staff_id].public_id,
            guide_name=staff[c.guide_staff_id].name,
            unread=c.customer_unread if for_customer else c.guide_unread,
            last_message_at=c.last_message_at,
        )
        for c, k in rows
    ]


def card_of(sku: Sku, product: Product, image: str | None) -> dict[str, Any]:
    """The data of a product card message (kept with the message: what the guide sent)."""
    return {
        "sku": sku.public_id,
        "product": product.public_id,
        "title": product.title,
        "options": " / ".join(str(v) for v in (sku.options or {}).values()),
        "price_fen": sku.price,
        "image": image,
    }


async def first_image(session: AsyncSession, tenant: Tenant, product_id: int) -> str | None:
    path = await session.scalar(
        select(ProductImage.path)
        .where(ProductImage.merchant_id == tenant.id, ProductImage.product_id == product_id)
        .order_by(ProductImage.sort_order, ProductImage.id)
        .limit(1)
    )
    return url_for(path) if path else None


async def search_cards(
    session: AsyncSession, tenant: Tenant, q: str, *, store_id: int | None, limit: int = 20
) -> list[CardOut]:
    """Active SKUs of active products whose title, code or barcode matches ``q``, with the
    free units at the guide's store."""
    products, _cursor = await list_products(
        session, tenant, ProductFilter(q=q or None, status="active"), limit=limit
    )
    if not products:
        return []
    by_id = {p.product.id: p for p in products}
    skus = list(
        (
            await session.scalars(
                select(Sku)
                .where(
                    Sku.merchant_id == tenant.id,
                    Sku.product_id.in_(by_id),
                    Sku.status == "active",
                )
                .order_by(Sku.product_id, Sku.id)
                .limit(limit * 4)
            )
        ).all()
    )
    # One store's levels, not every store's (issue #11: 1.6 s at p95 for a 1,800-store chain).
    stock = await free_at_store(session, tenant, [s.id for s in skus], store_id) if store_id else {}
    cards = []
    for sku in skus:
        summary = by_id[sku.product_id]
        thumb = url_for(summary.thumbnail) if summary.thumbnail else None
        card = card_of(sku, summary.product, thumb)
        cards.append(CardOut(**card, in_store=stock.get(sku.id) if store_id else None))
    return cards
