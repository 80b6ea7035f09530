"""What a QR channel points at, by name and public id, and where its scan goes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Product, Sku
from loopmall.core.state import settings_of
from loopmall.core.tenancy import Tenant
from loopmall.merchants.models import Store
from loopmall.o2o.models import QrChannel
from loopmall.o2o.rules import ChannelKind
from loopmall.staff.models import Staff


@dataclass(frozen=True)
class ChannelView:
    """A channel with the names and public ids of what it points at, and its scan URL."""

    channel: QrChannel
    url: str
    store_name: str | None = None
    store_public_id: str | None = None
    guide_name: str | None = None
    guide_public_id: str | None = None
    product_title: str | None = None
    product_public_id: str | None = None
    sku_public_id: str | None = None

    @property
    def kind(self) -> str:
        return self.channel.kind

    @property
    def code(self) -> str:
        return self.channel.code

    @property
    def public_id(self) -> str:
        return self.channel.public_id


def scan_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/q/{code}"


def target_path(slug: str, view: ChannelView) -> str:
    """Where a scan lands: the join page, the product page, or the mall's home."""
    if view.kind == ChannelKind.JOIN:
        return f"/m/{slug}/join/{view.code}"
    if view.product_public_id:
        return f"/m/{slug}/p/{view.product_public_id}"
    return f"/m/{slug}/"


async def landing(session: AsyncSession, tenant: Tenant, channel: QrChannel) -> str:
    """Where a scan of ``channel`` lands (``target_path``), reading only the product's public
    id when the code shows one (the scan route's one lookup)."""
    product = None
    if channel.product_id is not None and channel.kind != ChannelKind.JOIN:
        product = await session.scalar(
            select(Product.public_id).where(
                Product.merchant_id == tenant.id, Product.id == channel.product_id
            )
        )
    url = scan_url(settings_of(session).base_url, channel.code)
    return target_path(tenant.slug, ChannelView(channel, url, product_public_id=product))


async def views(session: AsyncSession, tenant: Tenant, rows: list[QrChannel]) -> list[ChannelView]:
    """Names and public ids of what ``rows`` point at (one query per kind of target)."""
    base_url = settings_of(session).base_url

    async def lookup(model: Any, ids: set[int], *cols: Any) -> dict[int, Any]:
        if not ids:
            return {}
        found = await session.execute(
            select(model.id, *cols).where(model.merchant_id == tenant.id, model.id.in_(ids))
        )
        return {r[0]: r[1:] for r in found.all()}

    stores = await lookup(
        Store, {r.store_id for r in rows if r.store_id}, Store.name, Store.public_id
    )
    staff = await lookup(
        Staff, {r.guide_staff_id for r in rows if r.guide_staff_id}, Staff.name, Staff.public_id
    )
    products = await lookup(
        Product, {r.product_id for r in rows if r.product_id}, Product.title, Product.public_id
    )
    skus = await lookup(Sku, {r.sku_id for r in rows if r.sku_id}, Sku.public_id)
    out = []
    for r in rows:
        store = stores.get(r.store_id or 0)
        guide = staff.get(r.guide_staff_id or 0)
        product = products.get(r.product_id or 0)
        sku = skus.get(r.sku_id or 0)
        out.append(
            ChannelView(
                channel=r,
                url=scan_url(base_url, r.code),
                store_name=store[0] if store else None,
                store_public_id=store[1] if store else None,
                guide_name=guide[0] if guide else None,
                guide_public_id=guide[1] if guide else None,
                product_title=product[0] if product else None,
                product_public_id=product[1] if product else None,
                sku_public_id=sku[0] if sku else None,
            )
        )
    return out
