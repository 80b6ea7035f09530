"""The rules of orders in one place: statuses, the one table of allowed moves, errors.

CONVENTIONS rule 7: every move an order may make is listed in :data:`ORDERS`, with the
condition under which it is allowed (cash on delivery ships before it is paid; only a
pickup order becomes ready for pickup; …). Anything else raises ``illegal_order_transition``.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from loopmall.core.errors import Conflict, IllegalTransition, ValidationFailed
from loopmall.core.transitions import Transitions, always, illegal


class OrderStatus(StrEnum):
    CREATED = "created"  # placed, waiting for payment (or for delivery, cash on delivery)
    PAID = "paid"
    SHIPPED = "shipped"
    READY_FOR_PICKUP = "ready_for_pickup"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUND_REQUESTED = "refund_requested"
    REFUNDED = "refunded"


class OrderKind(StrEnum):
    MALL = "mall"
    FACE_TO_FACE = "face_to_face"
    STORE_SALE = "store_sale"  # a guide's held item sold at the till (orders.store_sale)


class Fulfilment(StrEnum):
    DELIVERY = "delivery"
    PICKUP = "pickup"  # 自提
    NONE = "none"  # face-to-face: the customer already has the goods


class PaymentMethod(StrEnum):
    ONLINE = "online"
    COD = "cod"  # cash on delivery (or on collection, for pickup)


class Facts(Protocol):
    """What the conditions of a move look at."""

    kind: str
    fulfilment: str
    payment_method: str
    refund_from: str | None  # where an open refund request came from


Condition = Callable[[Facts], bool]


def _online(o: Facts) -> bool:
    return o.payment_method == PaymentMethod.ONLINE


def _cod_delivery(o: Facts) -> bool:
    return o.payment_method == PaymentMethod.COD and o.fulfilment == Fulfilment.DELIVERY


def _cod_pickup(o: Facts) -> bool:
    return o.payment_method == PaymentMethod.COD and o.fulfilment == Fulfilment.PICKUP


def _delivery(o: Facts) -> bool:
    return o.fulfilment == Fulfilment.DELIVERY


def _pickup(o: Facts) -> bool:
    return o.fulfilment == Fulfilment.PICKUP


def _back_to(status: str) -> Condition:
    """A refund request settled (partial refund) or declined: back where it came from."""

    def condition(o: Facts) -> bool:
        return o.refund_from == status

    return condition


def _store_sale(o: Facts) -> bool:
    return o.kind == OrderKind.STORE_SALE


def _online_or_store_sale(o: Facts) -> bool:
    return _online(o) or _store_sale(o)


def _handed_over_at_once(o: Facts) -> bool:
    return o.fulfilment == Fulfilment.PICKUP or o.kind in (
        OrderKind.FACE_TO_FACE,
        OrderKind.STORE_SALE,
    )


S = OrderStatus


class IllegalOrderTransition(IllegalTransition):
    code = "illegal_order_transition"
    title = "The order cannot make that change of state"


# Every allowed move and when it is allowed. Nothing else happens to an order.
ORDERS: Transitions[OrderStatus] = Transitions(
    "order",
    {
        S.CREATED: {
            # The payment callback; a store sale: the money recorded as received at the till
            # by someone who may take money (never the guide alone, never without money: #11).
            S.PAID: _online_or_store_sale,
            S.CANCELLED: always,  # the customer, staff, or the unpaid-order sweep
            S.SHIPPED: _cod_delivery,  # cash on delivery ships unpaid
            S.READY_FOR_PICKUP: _cod_pickup,  # pay at the counter
        },
        S.PAID: {
            S.SHIPPED: _delivery,
            S.READY_FOR_PICKUP: _pickup,
            # Handed over at once (pickup, a store sale) / nothing to hand over (face-to-face).
            S.COMPLETED: _handed_over_at_once,
            S.REFUND_REQUESTED: _online,
            S.REFUNDED: _online,  # a full refund; a partial refund changes no status
        },
        S.SHIPPED: {
            S.COMPLETED: always,  # received (cash collected, for cash on delivery)
            S.REFUND_REQUESTED: _online,
            S.REFUNDED: _online,
        },
        S.READY_FOR_PICKUP: {
            S.COMPLETED: always,  # the pickup code was redeemed
            S.REFUND_REQUESTED: _online,
            S.REFUNDED: _online,
        },
        S.COMPLETED: {
            S.REFUND_REQUESTED: _online,
            S.REFUNDED: _online,
        },
        S.REFUND_REQUESTED: {
            S.REFUNDED: always,
            # The request was settled by a partial refund or declined: back where it was.
            S.PAID: _back_to("paid"),
            S.SHIPPED: _back_to("shipped"),
            S.READY_FOR_PICKUP: _back_to("ready_for_pickup"),
            S.COMPLETED: _back_to("completed"),
        },
        S.CANCELLED: {},
        S.REFUNDED: {},
    },
    error=illegal("order", IllegalOrderTransition),
)
# The table as (from, to) → condition, for reading it move by move.
MOVES = ORDERS.guards

# Statuses in which the customer has paid online and money may still be refunded.
REFUNDABLE = frozenset({S.PAID, S.SHIPPED, S.READY_FOR_PICKUP, S.COMPLETED, S.REFUND_REQUESTED})
FINAL = frozenset({S.CANCELLED, S.REFUNDED})


def allowed(facts: Facts, current: OrderStatus | str, target: OrderStatus) -> bool:
    return ORDERS.allows(current, target, facts)


def check_move(facts: Facts, current: OrderStatus | str, target: OrderStatus) -> None:
    """Raise :class:`IllegalOrderTransition` unless :data:`ORDERS` allows the move."""
    ORDERS.check(current, target, facts)


def check_fulfilment(facts: Facts, current: OrderStatus | str, target: OrderStatus) -> None:
    """Like :func:`check_move`, for the goods' steps (ship, ready, hand over): never while
    a refund request is open — the request is settled or declined first."""
    if current == OrderStatus.REFUND_REQUESTED:
        raise IllegalOrderTransition(
            "The order has an open refund request: refund or decline it first",
            current=OrderStatus.REFUND_REQUESTED.value,
            target=target.value,
        )
    ORDERS.check(current, target, facts)


def next_statuses(facts: Facts, current: OrderStatus | str) -> list[OrderStatus]:
    """Where this order may go from ``current`` (for pages: which buttons to show)."""
    return ORDERS.allowed_from(current, facts)


class CartEmpty(ValidationFailed):
    code = "cart_empty"
    title = "The cart is empty"


class CartLimit(ValidationFailed):
    code = "cart_limit"
    title = "The cart cannot hold more"
    message = "A cart holds at most %(most)s different items"


class LinesUnavailable(Conflict):
    code = "cart_lines_unavailable"
    title = "Some items in the cart cannot be bought now"


class CodNotEnabled(ValidationFailed):
    code = "cod_not_enabled"
    title = "This mall does not take cash on delivery"


class PickupNotAvailable(ValidationFailed):
    code = "pickup_not_available"
    title = "This store does not offer pickup"


class AddressRequired(ValidationFailed):
    code = "address_required"
    title = "Delivery needs a name, a phone number and an address"


class PickupCodeInvalid(ValidationFailed):
    code = "pickup_code_invalid"
    title = "No order waits for pickup with this code"


class RefundExceedsPaid(ValidationFailed):
    code = "refund_exceeds_paid"
    title = "The refund is more than what is left of the payment"
    message = "Only ¥%(refundable_yuan)s is left to refund"


MAX_LINE_QUANTITY = 99
MAX_CART_LINES = 50
PICKUP_CODE_DIGITS = 8
