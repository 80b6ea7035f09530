"""Holds a guide places in the store for a customer, and what becomes of them: a store
sale at the till, a release, a no-show. The units are held through inventory's holds."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Product, Sku
from loopmall.core import clock
from loopmall.core.errors import IllegalTransition, NotFound, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.guides.models import GuideHold
from loopmall.guides.rules import HoldOutcome, HoldTooLong, check_hold_move
from loopmall.guides.staffing import get_settings, in_scope
from loopmall.inventory.holds import place_hold, release_hold
from loopmall.inventory.locations import location_for_store
from loopmall.inventory.rules import HoldReason, check_quantity
from loopmall.orders.models import Order
from loopmall.orders.store_sale import create_store_sale

MIN_HOLD_SECONDS = 60


async def sku_for_card(
    session: AsyncSession, tenant: Tenant, public_id: str
) -> tuple[Sku, Product]:
    """An active SKU of an active product, by public id; NotFound otherwise."""
    row = (
        await session.execute(
            select(Sku, Product)
            .join(Product, Product.id == Sku.product_id)
            .where(
                Sku.merchant_id == tenant.id,
                Sku.public_id == public_id,
                Sku.status == "active",
                Product.status == "active",
            )
        )
    ).first()
    if row is None:
        raise NotFound("No such item")
    return row[0], row[1]


def _title(product: Product, sku: Sku) -> str:
    options = " / ".join(str(v) for v in (sku.options or {}).values())
    return f"{product.title} {options}".strip()[:200]


async def place(
    session: AsyncSession,
    tenant: Tenant,
    *,
    guide_staff_id: int,
    customer_id: int,
    store_id: int,
    sku_public_id: str,
    quantity: int,
    ttl_seconds: int,
) -> GuideHold:
    """Hold ``quantity`` of the SKU at the store for the customer for ``ttl_seconds``.

    Raises 422 ``hold_too_long`` beyond the merchant's maximum (nothing held), 422 for a
    bad quantity or a hold under a minute, 409 ``insufficient_stock`` when the store has
    not enough, 404 for an unknown SKU or store."""
    check_quantity(quantity)
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int):
        raise ValidationFailed("ttl_seconds must be a whole number", field="ttl_seconds")
    settings = await get_settings(session, tenant)
    if ttl_seconds > settings.max_hold_seconds:
        raise HoldTooLong(
            f"This merchant lets a guide hold an item for at most "
            f"{settings.max_hold_seconds // 3600} hours",
            max_seconds=settings.max_hold_seconds,
            field="ttl_seconds",
        )
    if ttl_seconds < MIN_HOLD_SECONDS:
        raise ValidationFailed("A hold lasts at least a minute", field="ttl_seconds")
    sku, product = await sku_for_card(session, tenant, sku_public_id)
    location = await location_for_store(session, tenant, store_id)
    public_id = new_public_id("gho")
    hold = await place_hold(
        session,
        tenant,
        sku_id=sku.id,
        location_id=location.id,
        quantity=quantity,
        ttl=timedelta(seconds=ttl_seconds),
        reason=HoldReason.GUIDE,
        reference=public_id,
        actor=f"staff:{guide_staff_id}",
    )
    now = clock.now()
    row = GuideHold(
        merchant_id=tenant.id,
        public_id=public_id,
        hold_id=hold.id,
        customer_id=customer_id,
        guide_staff_id=guide_staff_id,
        store_id=store_id,
        sku_id=sku.id,
        quantity=quantity,
        unit_fen=sku.price,
        title=_title(product, sku),
        status=HoldOutcome.ACTIVE.value,
        expires_at=hold.expires_at,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def get(
    session: AsyncSession,
    tenant: Tenant,
    public_id: str,
    *,
    guide_staff_id: int | None = None,
    store_ids: frozenset[int] | None = None,
) -> GuideHold:
    return await in_scope(
        session,
        tenant,
        GuideHold,
        public_id,
        guide_staff_id=guide_staff_id,
        store_ids=store_ids,
        missing="No such hold",
    )


async def get_by_id(session: AsyncSession, tenant: Tenant, hold_id: int) -> GuideHold:
    found: GuideHold | None = await session.scalar(
        scoped(GuideHold, tenant, GuideHold.id == hold_id)
    )
    if found is None:
        raise NotFound("No such hold")
    return found


async def sell(
    session: AsyncSession,
    tenant: Tenant,
    row: GuideHold,
    *,
    actor: str,
    unit_fen: int | None = None,
) -> Order:
    """Turn the hold into a store sale at the till (the held price unless ``unit_fen``).
    Raises 409 ``illegal_transition`` when the hold ended (sold, released, lapsed)."""
    check_hold_move(row.status, HoldOutcome.SOLD)
    order = await create_store_sale(
        session,
        tenant,
        customer_id=row.customer_id,
        store_id=row.store_id,
        guide_staff_id=row.guide_staff_id,
        hold_id=row.hold_id,
        sku_id=row.sku_id,
        quantity=row.quantity,
        unit_fen=row.unit_fen if unit_fen is None else unit_fen,
        actor=actor,
    )
    row.status = HoldOutcome.SOLD.value
    row.order_id = order.id
    row.ended_at = clock.now()
    await session.flush()
    return order


async def give_back(
    session: AsyncSession, tenant: Tenant, row: GuideHold, outcome: HoldOutcome, *, actor: str
) -> GuideHold:
    """Release the held units (``released`` or ``no_show``). A hold whose time already ran
    out has its units back: only its outcome is recorded."""
    check_hold_move(row.status, outcome)
    try:
        await release_hold(session, tenant, row.hold_id, actor=actor, reason=outcome.value)
    except IllegalTransition:
        pass  # lapsed meanwhile: inventory gave the units back already
    row.status = outcome.value
    row.ended_at = clock.now()
    await session.flush()
    return row


async def active_for(
    session: AsyncSession,
    tenant: Tenant,
    *,
    guide_staff_id: int | None = None,
    customer_id: int | None = None,
) -> list[GuideHold]:
    stmt = scoped(GuideHold, tenant, GuideHold.status == HoldOutcome.ACTIVE.value)
    if guide_staff_id is not None:
        stmt = stmt.where(GuideHold.guide_staff_id == guide_staff_id)
    if customer_id is not None:
        stmt = stmt.where(GuideHold.customer_id == customer_id)
    return list((await session.scalars(stmt.order_by(GuideHold.id.desc()))).all())


async def hand_over(
    session: AsyncSession, tenant: Tenant, *, from_staff_id: int, to_staff_id: int
) -> int:
    """Give a leaving guide's active holds to another guide; how many."""
    rows = await active_for(session, tenant, guide_staff_id=from_staff_id)
    for row in rows:
        row.guide_staff_id = to_staff_id
    await session.flush()
    return len(rows)
