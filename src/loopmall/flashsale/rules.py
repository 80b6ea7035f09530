"""The rules of flash sales in one place: a sale's phases, the ticket moves, the errors."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from loopmall.core.errors import Conflict, IllegalTransition, LoopmallError, ValidationFailed
from loopmall.core.transitions import Transitions, illegal


class TicketStatus(StrEnum):
    ACCEPTED = "accepted"  # a gate let the buyer through; the order is being made
    ORDERED = "ordered"  # the order exists and waits for payment
    PAID = "paid"
    LAPSED = "lapsed"  # unpaid in time (or cancelled): the unit went back on sale


T = TicketStatus


class IllegalTicketTransition(IllegalTransition):
    code = "illegal_ticket_transition"
    title = "The flash-sale ticket cannot make that change of state"


# Every move a ticket may make. A lapse returns the unit to the sale, so the move
# ordered → lapsed happening once (a conditional UPDATE) is what makes "resold once" true.
TICKETS: Transitions[TicketStatus] = Transitions(
    "ticket",
    {
        T.ACCEPTED: {T.ORDERED},
        T.ORDERED: {T.PAID, T.LAPSED},
    },
    error=illegal("ticket", IllegalTicketTransition),
)
TICKET_MOVES = TICKETS.pairs
check_ticket_move = TICKETS.check


class Phase(StrEnum):
    UPCOMING = "upcoming"  # reservations not open yet
    RESERVING = "reserving"
    WAITING = "waiting"  # reservations closed, the sale has not started
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


def phase_at(
    now: datetime,
    *,
    status: str,
    reserve_from: datetime,
    reserve_until: datetime,
    starts_at: datetime,
    ends_at: datetime,
) -> Phase:
    """Where a sale is at ``now``. Reservations may stay open into the sale."""
    if status == "cancelled":
        return Phase.CANCELLED
    if now >= ends_at:
        return Phase.ENDED
    if now >= starts_at:
        return Phase.LIVE
    if reserve_from <= now < reserve_until:
        return Phase.RESERVING
    if now < reserve_from:
        return Phase.UPCOMING
    return Phase.WAITING


class SaleNotReserving(Conflict):
    code = "flash_not_reserving"
    title = "Reservations for this sale are not open"


class SaleNotLive(Conflict):
    code = "flash_not_live"
    title = "This sale is not on now"


class NotReserved(LoopmallError):
    status = 403
    code = "flash_not_reserved"
    title = "Only customers who reserved may buy in this sale"


class AlreadyBought(Conflict):
    code = "flash_already_bought"
    title = "You already bought in this sale"


class SoldOut(Conflict):
    code = "flash_sold_out"
    title = "Sold out"


class TokenInvalid(LoopmallError):
    status = 403
    code = "flash_token_invalid"
    title = "The sale token is missing, forged or expired: reload the sale page"


class TokenUsed(LoopmallError):
    status = 403
    code = "flash_token_used"
    title = "This sale token was already used: reload the sale page"


class RateLimited(LoopmallError):
    status = 429
    code = "flash_rate_limited"
    title = "Too many tries: wait a moment"


class SaleInvalid(ValidationFailed):
    code = "flash_sale_invalid"
    title = "The sale's settings are not valid"


MAX_STOCK = 1_000_000
MAX_BUCKETS = 256
MAX_PER_PERSON = 10
TOKEN_TTL_SECONDS = 10 * 60
