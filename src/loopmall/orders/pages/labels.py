"""Words the order pages show for statuses, problems and refusals (translated)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loopmall.core.errors import LoopmallError, NotFound
from loopmall.inventory.rules import InsufficientStock
from loopmall.orders.rules import (
    AddressRequired,
    CartEmpty,
    CartLimit,
    CodNotEnabled,
    IllegalOrderTransition,
    PickupCodeInvalid,
    PickupNotAvailable,
)


def labels(_: Any) -> dict[str, dict[str, str]]:
    return {
        "status": {
            "created": _("Awaiting payment"),
            "paid": _("Paid"),
            "shipped": _("Shipped"),
            "ready_for_pickup": _("Ready for pickup"),
            "completed": _("Completed"),
            "cancelled": _("Cancelled"),
            "refund_requested": _("Refund requested"),
            "refunded": _("Refunded"),
        },
        "fulfilment": {
            "delivery": _("Delivery"),
            "pickup": _("Store pickup"),
            "none": _("Paid in store"),
        },
        "payment": {"online": _("Pay online"), "cod": _("Cash on delivery")},
        "kind": {"mall": _("Mall order"), "face_to_face": _("Face-to-face payment")},
        "actor": {
            "customer": _("Customer"),
            "system": _("System"),
            "payment": _("Payment provider"),
        },
        "note": {
            "unpaid": _("Not paid in time"),
            "stock_gone": _("The items sold out before the payment arrived"),
            "partial_refund": _("Partial refund"),
            "refund": _("Refund"),
        },
    }


def problem_label(_: Any) -> Callable[[str | None], str]:
    texts = {
        "not_for_sale": _("No longer on sale"),
        "not_sold_in_channel": _("Not sold for this way of delivery"),
        "out_of_stock": _("Sold out"),
        "not_enough_stock": _("Not enough left"),
    }

    def label(code: str | None) -> str:
        return texts.get(code or "", "")

    return label


def error_message(_: Any, exc: LoopmallError) -> str:
    if isinstance(exc, InsufficientStock):
        return _("Someone just bought the last units. Check the cart and try again.")
    if isinstance(exc, CartEmpty):
        return _("The cart is empty.")
    if isinstance(exc, CartLimit):
        return _("The cart is full.")
    if isinstance(exc, AddressRequired):
        return _("Enter the recipient's name, phone number and address.")
    if isinstance(exc, PickupNotAvailable):
        return _("This store does not offer pickup now. Choose another.")
    if isinstance(exc, CodNotEnabled):
        return _("This mall does not take cash on delivery.")
    if isinstance(exc, PickupCodeInvalid):
        return _("No order waits for pickup with this code here.")
    if isinstance(exc, IllegalOrderTransition):
        return _("The order cannot do that in its current status.")
    if isinstance(exc, NotFound):
        return _("That item, store or order was not found.")
    if exc.code == "not_for_sale":
        return _("This item is not on sale.")
    return _("That did not work. Check the form and try again.")
