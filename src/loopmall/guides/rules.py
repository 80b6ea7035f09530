"""The rules of the guide workbench in one place: statuses and their moves, limits, errors."""

from __future__ import annotations

from enum import StrEnum

from loopmall.core.errors import Conflict, NotFound, ValidationFailed
from loopmall.core.transitions import Transitions

DEFAULT_MAX_HOLD_SECONDS = 48 * 3600  # two days: long enough to come to the store
DEFAULT_SLOT_MINUTES = 30
MAX_TEXT = 1000
MAX_TAG = 30
MAX_TAGS = 20
# The longest a merchant may let a guide hold an item (inventory's limit is seven days).
HOLD_CEILING_SECONDS = 7 * 24 * 3600
FITTING_HORIZON_DAYS = 60


class Sender(StrEnum):
    CUSTOMER = "customer"
    GUIDE = "guide"
    SYSTEM = "system"


class MessageKind(StrEnum):
    TEXT = "text"
    CARD = "card"  # the guide pushes a product (one SKU)
    PICK = "pick"  # the customer taps a card: "I'd like to try this"
    HOLD = "hold"  # the guide held the item in the store
    FITTING = "fitting"  # a fitting was booked / ended
    SYSTEM = "system"  # hand-over and other notes


class HoldOutcome(StrEnum):
    ACTIVE = "active"
    SOLD = "sold"
    RELEASED = "released"
    NO_SHOW = "no_show"


class FittingStatus(StrEnum):
    BOOKED = "booked"
    SOLD = "sold"  # the hold became a store sale
    RELEASED = "released"  # the customer came and did not buy
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


F = FittingStatus
# CONVENTIONS rule 7: every move a fitting may make, and nothing else.
FITTINGS: Transitions[FittingStatus] = Transitions(
    "fitting", {F.BOOKED: {F.SOLD, F.RELEASED, F.NO_SHOW, F.CANCELLED}}
)
FITTING_MOVES = FITTINGS.moves
check_fitting_move = FITTINGS.check

H = HoldOutcome
HOLDS: Transitions[HoldOutcome] = Transitions("hold", {H.ACTIVE: {H.SOLD, H.RELEASED, H.NO_SHOW}})
HOLD_MOVES = HOLDS.moves
check_hold_move = HOLDS.check

# What a fitting's outcome does to its hold.
OUTCOME_OF_HOLD: dict[FittingStatus, HoldOutcome] = {
    F.SOLD: H.SOLD,
    F.RELEASED: H.RELEASED,
    F.NO_SHOW: H.NO_SHOW,
    F.CANCELLED: H.RELEASED,
}


class HoldTooLong(ValidationFailed):
    code = "hold_too_long"
    title = "The hold is longer than the merchant allows"
    message = "This merchant lets a guide hold an item for at most %(hours)s hours"


class FittingClosedHour(ValidationFailed):
    code = "fitting_closed_hour"
    title = "The store is closed at that time"


class FittingSlotTaken(Conflict):
    code = "fitting_slot_taken"
    title = "That fitting slot is already taken"


class FittingSlotInvalid(ValidationFailed):
    code = "fitting_slot_invalid"
    title = "Fittings start on the slot grid, in the future"
    message = "Fittings start every %(slot_minutes)s minutes"


class FittingTooFarAhead(FittingSlotInvalid):
    """Past or beyond the booking horizon (same code, its own sentence)."""

    message = "A fitting is booked in the next %(days)s days"


class HoldEndsBeforeFitting(ValidationFailed):
    code = "hold_ends_before_fitting"
    title = "The held item is released before the fitting starts"


class NotAGuide(ValidationFailed):
    code = "not_a_guide"
    title = "That staff member is not a guide of this merchant"


class CustomerNotFound(NotFound):
    code = "customer_not_found"
    title = "No such customer"


class HoldNotActive(Conflict):
    code = "hold_not_active"
    title = "The hold is no longer active"
