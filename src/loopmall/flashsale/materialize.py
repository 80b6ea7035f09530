"""Accepted buy requests become real orders, in batches: the one path both gates use.

The Redis gate's stream consumer calls :func:`materialize` with the requests it read (the
Lua script already took the units in Redis); the database gate wrote its tickets itself
(its unit already taken from a bucket) and :mod:`loopmall.flashsale.pending` orders them
through :func:`order_tickets`. Either way a ticket becomes an order once: a redelivered
request finds its ticket by ``request_id`` and gets the same answer again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Row, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.models import Product, Sku
from loopmall.core import clock
from loopmall.core.tenancy import Tenant
from loopmall.flashsale.buckets import give_units, take_units
from loopmall.flashsale.models import FlashReservation, FlashSale, FlashTicket
from loopmall.flashsale.repository import get_sale_by_id, insert_ignoring
from loopmall.flashsale.rules import TicketStatus, check_ticket_move
from loopmall.orders.flash import FlashBuyer, FlashItem, create_flash_orders
from loopmall.orders.models import Order

T = TicketStatus


@dataclass(frozen=True, slots=True)
class BuyRequest:
    """A buy a gate accepted: ``request_id`` is unique per accepted attempt (the stream
    entry's id or the gate's own), ``accepted_at`` when the gate said yes."""

    request_id: str
    customer_id: int
    quantity: int
    accepted_at: datetime


class OutcomeStatus(StrEnum):
    ORDERED = "ordered"  # the ticket has its order (made now, or before: a redelivery)
    DUPLICATE = "duplicate"  # this customer already holds another ticket of the sale
    SOLD_OUT = "sold_out"  # the database had no unit left for it
    NOT_RESERVED = "not_reserved"  # the customer holds no reservation
    INVALID = "invalid"  # a quantity outside 1 … the sale's per-person limit


@dataclass(frozen=True, slots=True)
class Outcome:
    request_id: str
    status: OutcomeStatus
    ticket_id: int | None = None
    ticket_status: str | None = None  # accepted|ordered|paid|lapsed for a known ticket
    order_id: int | None = None
    order_public_id: str | None = None


async def _item(session: AsyncSession, sale: FlashSale) -> FlashItem:
    row = (
        await session.execute(
            select(Sku.public_id, Sku.options, Product.title)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.id == sale.sku_id)
        )
    ).one()
    options = " / ".join(str(v) for v in (row.options or {}).values())
    return FlashItem(
        sku_id=sale.sku_id,
        sku_public_id=row.public_id,
        title=sale.title or row.title,
        options_text=options,
        unit_fen=sale.price_fen,
        list_fen=sale.list_fen,
        location_id=sale.location_id,
    )


async def order_tickets(
    session: AsyncSession, tenant: Tenant, sale: FlashSale, tickets: Sequence[FlashTicket]
) -> list[Order]:
    """Make the orders of ``accepted`` tickets (the caller locked them) and move the
    tickets to ``ordered``. Raises 409 ``illegal_ticket_transition`` for another status."""
    if not tickets:
        return []
    for ticket in tickets:
        check_ticket_move(ticket.status, T.ORDERED)
    orders = await create_flash_orders(
        session,
        tenant,
        item=await _item(session, sale),
        buyers=[FlashBuyer(t.customer_id, t.quantity, serial=t.id) for t in tickets],
        pay_within_seconds=sale.pay_within_seconds,
    )
    now = clock.now()
    for ticket, order in zip(tickets, orders, strict=True):
        ticket.status = T.ORDERED.value
        ticket.order_id = order.id
        ticket.updated_at = now
    await session.flush()
    return orders


async def materialize(
    session: AsyncSession,
    tenant: Tenant,
    sale_id: int,
    requests: list[BuyRequest],
    *,
    take_stock: bool = True,
) -> list[Outcome]:
    """Turn a batch of accepted requests into tickets and unpaid orders; one outcome per
    request, in order. Idempotent on ``request_id``. New tickets take their units from
    the sale's buckets (``take_stock``; the database gate took them already), first come
    first served; a request the buckets cannot serve is ``sold_out`` and leaves nothing.
    The caller commits, then acknowledges the requests. Raises NotFound for an unknown
    sale."""
    sale = await get_sale_by_id(session, tenant, sale_id)
    batch = _once_each(requests)
    if not batch:
        return []
    reserved = await _reserved_customers(session, sale, batch)
    early, candidates = _turn_away_early(sale, batch, reserved)
    if candidates:
        new = await _insert_tickets(session, tenant, sale, candidates)
        if take_stock and new:
            await _take_units_first_come(session, tenant, sale, new)
    tickets = await _lock_tickets(session, candidates)
    await order_tickets(session, tenant, sale, _still_accepted(tickets, sale))
    found = _Found(
        early=early,
        tickets=tickets,
        order_public_ids=await _order_public_ids(session, tickets),
        customers_with_tickets=await _customers_with_tickets(session, sale, candidates),
    )
    return [_outcome(r, sale, found) for r in batch]


@dataclass(frozen=True, slots=True)
class _Found:
    """What the batch found out, for each request's outcome."""

    early: dict[str, OutcomeStatus]  # turned away before any ticket: invalid, not reserved
    tickets: dict[str, FlashTicket]  # by request_id
    order_public_ids: dict[int, str]  # by order id
    customers_with_tickets: set[int]  # of this sale, among the candidates


def _once_each(requests: list[BuyRequest]) -> list[BuyRequest]:
    """The requests without repeats of a ``request_id`` (the first one kept), in order."""
    seen: set[str] = set()
    batch: list[BuyRequest] = []
    for r in requests:
        if r.request_id not in seen:
            seen.add(r.request_id)
            batch.append(r)
    return batch


async def _reserved_customers(
    session: AsyncSession, sale: FlashSale, batch: list[BuyRequest]
) -> set[int]:
    """The batch's customers who hold a reservation of the sale."""
    customers = {r.customer_id for r in batch}
    return set(
        (
            await session.scalars(
                select(FlashReservation.customer_id).where(
                    FlashReservation.sale_id == sale.id,
                    FlashReservation.customer_id.in_(customers),
                )
            )
        ).all()
    )


def _turn_away_early(
    sale: FlashSale, batch: list[BuyRequest], reserved: set[int]
) -> tuple[dict[str, OutcomeStatus], list[BuyRequest]]:
    """Requests answered without a ticket (a quantity outside the limit, no reservation),
    and the candidates that may get one."""
    early: dict[str, OutcomeStatus] = {}
    candidates: list[BuyRequest] = []
    for r in batch:
        if not 1 <= r.quantity <= sale.per_person_limit:
            early[r.request_id] = OutcomeStatus.INVALID
        elif r.customer_id not in reserved:
            early[r.request_id] = OutcomeStatus.NOT_RESERVED
        else:
            candidates.append(r)
    return early, candidates


async def _insert_tickets(
    session: AsyncSession, tenant: Tenant, sale: FlashSale, candidates: list[BuyRequest]
) -> list[Row[tuple[int, str, int]]]:
    """Insert an ``accepted`` ticket per candidate, skipping those already there (a
    redelivered request, or a customer's second ticket); the new ones, first come first."""
    now = clock.now()
    inserted = await session.execute(
        insert_ignoring(session, FlashTicket).returning(
            FlashTicket.id, FlashTicket.request_id, FlashTicket.quantity
        ),
        [
            {
                "merchant_id": tenant.id,
                "sale_id": sale.id,
                "customer_id": r.customer_id,
                "request_id": r.request_id,
                "quantity": r.quantity,
                "status": T.ACCEPTED.value,
                "accepted_at": r.accepted_at,
                "updated_at": now,
            }
            for r in candidates
        ],
    )
    return sorted(inserted.all(), key=lambda row: row.id)  # first come, first served


async def _take_units_first_come(
    session: AsyncSession, tenant: Tenant, sale: FlashSale, new: list[Row[tuple[int, str, int]]]
) -> None:
    """Take the new tickets' units from the buckets; the latest tickets the buckets cannot
    serve are deleted (their requests become ``sold_out``), units left over go back."""
    wanted = sum(row.quantity for row in new)
    got = await take_units(session, sale.id, wanted)
    unserved: list[int] = []
    while got < wanted:
        row = new.pop()
        wanted -= row.quantity
        unserved.append(row.id)
    if got > wanted:  # a larger ticket left units that the smaller ones did not need
        await give_units(session, tenant, sale.id, got - wanted)
    if unserved:
        await session.execute(delete(FlashTicket).where(FlashTicket.id.in_(unserved)))


async def _lock_tickets(
    session: AsyncSession, candidates: list[BuyRequest]
) -> dict[str, FlashTicket]:
    """The candidates' tickets by request_id, row-locked and read afresh."""
    ids = [r.request_id for r in candidates]
    return {
        t.request_id: t
        for t in (
            await session.scalars(
                select(FlashTicket)
                .where(FlashTicket.request_id.in_(ids))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).all()
    }


def _still_accepted(tickets: dict[str, FlashTicket], sale: FlashSale) -> list[FlashTicket]:
    """The sale's tickets that have no order yet, oldest first."""
    return sorted(
        (t for t in tickets.values() if t.status == T.ACCEPTED and t.sale_id == sale.id),
        key=lambda t: t.id,
    )


async def _order_public_ids(
    session: AsyncSession, tickets: dict[str, FlashTicket]
) -> dict[int, str]:
    """The public ids of the tickets' orders, by order id."""
    order_ids = [t.order_id for t in tickets.values() if t.order_id is not None]
    if not order_ids:
        return {}
    rows = await session.execute(select(Order.id, Order.public_id).where(Order.id.in_(order_ids)))
    return {order_id: public_id for order_id, public_id in rows.all()}


async def _customers_with_tickets(
    session: AsyncSession, sale: FlashSale, candidates: list[BuyRequest]
) -> set[int]:
    """The candidates' customers who hold a ticket of the sale (by this batch or before)."""
    if not candidates:
        return set()
    return set(
        (
            await session.scalars(
                select(FlashTicket.customer_id).where(
                    FlashTicket.sale_id == sale.id,
                    FlashTicket.customer_id.in_({r.customer_id for r in candidates}),
                )
            )
        ).all()
    )


def _outcome(r: BuyRequest, sale: FlashSale, found: _Found) -> Outcome:
    """One request's answer: turned away early, ordered (now or before), or no ticket of
    this sale: a duplicate when the customer holds another, sold out otherwise."""
    if r.request_id in found.early:
        return Outcome(r.request_id, found.early[r.request_id])
    ticket = found.tickets.get(r.request_id)
    if ticket is None or ticket.sale_id != sale.id:
        duplicate = r.customer_id in found.customers_with_tickets
        return Outcome(
            r.request_id, OutcomeStatus.DUPLICATE if duplicate else OutcomeStatus.SOLD_OUT
        )
    return Outcome(
        r.request_id,
        OutcomeStatus.ORDERED,
        ticket_id=ticket.id,
        ticket_status=ticket.status,
        order_id=ticket.order_id,
        order_public_id=found.order_public_ids.get(ticket.order_id) if ticket.order_id else None,
    )
