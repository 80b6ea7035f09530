"""The rules of a guide's discount on a store sale: pure, no I/O (ADR 0008).

A store sale is priced by the price pipeline (the store channel, the member price for a
member); a guide never sets the price. The guide may *ask* for a discount off that price
in one of three forms: an amount off each unit, a percentage off (basis points), or the
final unit price. The merchant's cap (basis points of the pipeline's price, 0 by default)
says what the guide may give alone; beyond it the discount waits for someone with
``orders.discount_approve`` — and until then the till takes no money for the sale.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from loopmall.core.errors import Conflict, Forbidden, ValidationFailed
from loopmall.core.money import BASIS_POINTS, apply_basis_points


class DiscountApproval(StrEnum):
    NONE = "none"  # no discount: the pipeline's price
    WITHIN_CAP = "within_cap"  # the guide gave it alone, within the merchant's cap
    PENDING = "pending"  # beyond the cap: waits for an approver; the till refuses it
    APPROVED = "approved"  # beyond the cap, approved by someone with the right


@dataclass(frozen=True, slots=True)
class DiscountAsk:
    """What the guide asks for: exactly one of the three forms (all per unit)."""

    off_fen: int | None = None
    off_bp: int | None = None
    final_unit_fen: int | None = None


def _whole(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DiscountInvalid("A discount is a whole number", field=field)
    return value


def unit_after(price: int, ask: DiscountAsk) -> int:
    """The unit price after the discount asked for, off the pipeline's ``price``.

    A percentage is taken off with the house rounding rule (``money.apply_basis_points``,
    half-up to the fen). Raises 422 ``discount_invalid`` for no form or more than one,
    a negative amount, more than 100 %, or a final price above the pipeline's price (a
    discount never raises a price) or below zero."""
    given = [
        (name, value)
        for name, value in (
            ("off_fen", ask.off_fen),
            ("off_bp", ask.off_bp),
            ("final_unit_fen", ask.final_unit_fen),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise DiscountInvalid(
            "Ask for a discount in one form: off_fen, off_bp or final_unit_fen", field="discount"
        )
    name, raw = given[0]
    value = _whole(raw, name)
    if value < 0:
        raise DiscountInvalid("A discount is not negative", field=name)
    if name == "off_bp":
        if value > BASIS_POINTS:
            raise DiscountInvalid("A discount is at most 100 % (10000 bp)", field=name)
        return price - apply_basis_points(price, value)
    if name == "off_fen":
        final = price - value
    else:
        final = value
    if final > price:
        raise DiscountInvalid(
            "The final price is above the store's price: a discount never raises it",
            field=name,
            price_fen=price,
        )
    if final < 0:
        raise DiscountInvalid("The discount is more than the price", field=name, price_fen=price)
    return final


def within_cap(price: int, final: int, cap_bp: int) -> bool:
    """Whether taking ``price - final`` off ``price`` is within ``cap_bp`` basis points.
    Exact in integers: no rounding lets a guide past the cap by a fen."""
    return (price - final) * BASIS_POINTS <= cap_bp * price


def approval_for(price: int, final: int, cap_bp: int) -> DiscountApproval:
    """Who must agree to the discount: nobody (none), the guide alone, or an approver."""
    if final == price:
        return DiscountApproval.NONE
    if within_cap(price, final, cap_bp):
        return DiscountApproval.WITHIN_CAP
    return DiscountApproval.PENDING


class DiscountInvalid(ValidationFailed):
    code = "discount_invalid"
    title = "The discount asked for is not valid"


class DiscountNotApproved(Conflict):
    code = "discount_not_approved"
    title = "The discount is beyond the merchant's cap and waits for approval"


class DiscountNotPending(Conflict):
    code = "discount_not_pending"
    title = "This sale has no discount waiting for approval"


class SelfApproval(Forbidden):
    code = "discount_self_approval"
    title = "A discount is approved by someone other than the guide who gave it"


class TillAmountMismatch(ValidationFailed):
    code = "till_amount_mismatch"
    title = "The amount received is not the sale's total"
