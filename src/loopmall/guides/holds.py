"""Holds a guide places in the store for a customer, and what becomes of them: a store
sale at the till, a release, a no-show. The units are held through inventory's holds."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Product, Sku
from loopmall.catalog.prices import quote_sku
from loopmall.catalog.pricing import Channel
from loopmall.core import clock
from loopmall.core.errors import IllegalTransition, NotFound, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.guides.models import GuideHold
from loopmall.guides.rules import HoldNotActive, HoldOutcome, HoldTooLong, check_hold_move
from loopmall.guides.staffing import get_settings, in_scope, store_by_id
from loopmall.inventory.holds import place_hold, release_hold
from loopmall.inventory.locations import location_for_store
from loopmall.inventory.rules import HoldReason, check_quantity
from loopmall.members.service import is_member
from loopmall.orders import hooks
from loopmall.orders.models import Order
from loopmall.orders.rules import OrderKind
from loopmall.orders.store_discount import DiscountAsk
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
            hours=settings.max_hold_seconds // 3600,
            field="ttl_seconds",
        )
    if ttl_seconds < MIN_HOLD_SECONDS:
        raise ValidationFailed("A hold lasts at least a minute", field="ttl_seconds")
    sku, product = await sku_for_card(session, tenant, sku_public_id)
    location = await location_for_store(session, tenant, store_id)
    # The price shown on the hold is what the store would charge this customer (the
    # store channel, the member price for a member); the sale re-quotes it (ADR 0008).
    store = await store_by_id(session, tenant, store_id)
    quote = await quote_sku(
        session,
        tenant,
        sku.public_id,
        channel=Channel.STORE,
        store_public_id=store.public_id,
        is_member=await is_member(session, tenant, customer_id),
    )
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
        unit_fen=quote.amount,
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
    discount: DiscountAsk | None = None,
    given_by_staff_id: int | None = None,
) -> Order:
    """Ring the hold up as a store sale (``orders.store_sale``): priced by the price
    pipeline for the store, less the ``discount`` the guide asks for; unpaid until the
    till records the money. The hold stays active, with its order, until then: it is
    ``sold`` when the money is received, ``released`` if the sale is cancelled.

    Raises 409 ``illegal_transition`` when the hold ended (sold, released, lapsed), 409
    ``hold_not_active`` when it is rung up already, 422 ``discount_invalid``."""
    check_hold_move(row.status, HoldOutcome.SOLD)
    if row.order_id is not None:
        raise HoldNotActive("The hold is rung up already: the till takes the money")
    order = await create_store_sale(
        session,
        tenant,
        customer_id=row.customer_id,
        store_id=row.store_id,
        guide_staff_id=row.guide_staff_id,
        hold_id=row.hold_id,
        sku_id=row.sku_id,
        quantity=row.quantity,
        discount=discount,
        given_by_staff_id=given_by_staff_id,
        actor=actor,
    )
    # No check-then-act: two taps racing both saw no order above; the conditional UPDATE
    # lets one claim the hold (PostgreSQL re-checks the row after the other's commit) and
    # the other rolls back with its order.
    claimed = await session.execute(
        update(GuideHold)
        .where(
            GuideHold.merchant_id == tenant.id,
            GuideHold.id == row.id,
            GuideHold.status == HoldOutcome.ACTIVE.value,
            GuideHold.order_id.is_(None),
        )
        .values(order_id=order.id),
        execution_options={"synchronize_session": False},
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise HoldNotActive("The hold is rung up already: the till takes the money")
    row.order_id = order.id
    await session.flush()
    return order


async def _end_rung_up(
    session: AsyncSession, tenant: Tenant, order: Order, outcome: HoldOutcome
) -> None:
    if order.kind != OrderKind.STORE_SALE:
        return
    await session.execute(
        update(GuideHold)
        .where(
            GuideHold.merchant_id == tenant.id,
            GuideHold.order_id == order.id,
            GuideHold.status == HoldOutcome.ACTIVE.value,
        )
        .values(status=outcome.value, ended_at=clock.now()),
        execution_options={"synchronize_session": False},
    )


@hooks.after("pay")
async def sale_paid(session: AsyncSession, tenant: Tenant, order: Order) -> None:
    """The till received the money for a store sale: its hold is ``sold``."""
    await _end_rung_up(session, tenant, order, HoldOutcome.SOLD)


@hooks.after("cancel")
async def sale_cancelled(session: AsyncSession, tenant: Tenant, order: Order) -> None:
    """A store sale cancelled before it was paid (its discount declined, or staff cancelled
    it): its hold ends ``released`` — the order released the held units already."""
    await _end_rung_up(session, tenant, order, HoldOutcome.RELEASED)


async def give_back(
    session: AsyncSession, tenant: Tenant, row: GuideHold, outcome: HoldOutcome, *, actor: str
) -> GuideHold:
    """Release the held units (``released`` or ``no_show``). A hold whose time already ran
    out has its units back: only its outcome is recorded."""
    check_hold_move(row.status, outcome)
    rung_up = HoldNotActive(
        "The hold is rung up as a sale: the till takes the money, or staff cancel it"
    )
    if row.order_id is not None:
        raise rung_up
    now = clock.now()
    # Conditional, like ``sell``'s claim: a sale rung up meanwhile wins and this refuses.
    ended = await session.execute(
        update(GuideHold)
        .where(
            GuideHold.merchant_id == tenant.id,
            GuideHold.id == row.id,
            GuideHold.status == HoldOutcome.ACTIVE.value,
            GuideHold.order_id.is_(None),
        )
        .values(status=outcome.value, ended_at=now),
        execution_options={"synchronize_session": False},
    )
    if getattr(ended, "rowcount", 0) != 1:
        raise rung_up
    try:
        await release_hold(session, tenant, row.hold_id, actor=actor, reason=outcome.value)
    except IllegalTransition:
        pass  # lapsed meanwhile: inventory gave the units back already
    row.status = outcome.value
    row.ended_at = now
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
