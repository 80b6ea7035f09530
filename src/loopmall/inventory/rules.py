"""The rules of inventory in one place: hold states and their moves, limits, errors."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from loopmall.core.errors import Conflict, OutOfRange, ValidationFailed
from loopmall.core.text import check_text, is_clean
from loopmall.core.transitions import Transitions

# A level never counts more than this many units, so sums stay far inside a 32-bit int.
MAX_UNITS = 1_000_000_000
# A guide reserving an item for a customer's visit is the longest honest hold (S0).
MAX_HOLD_TTL = timedelta(days=7)
MIN_HOLD_TTL = timedelta(seconds=1)
SYSTEM_ACTOR = "system"


class LocationKind(StrEnum):
    WAREHOUSE = "warehouse"
    STORE = "store"


class HoldStatus(StrEnum):
    ACTIVE = "active"
    CONSUMED = "consumed"
    RELEASED = "released"
    LAPSED = "lapsed"


class HoldReason(StrEnum):
    ORDER = "order"  # an unpaid order
    GUIDE = "guide"  # a guide (导购) keeps an item for a customer
    OTHER = "other"


class MovementKind(StrEnum):
    RECEIVE = "receive"  # goods arrived
    ADJUST = "adjust"  # a correction, damage, loss… (the reason says which)
    COUNT = "count"  # a stocktake set the count
    HOLD = "hold"
    RELEASE = "release"
    LAPSE = "lapse"
    CONSUME = "consume"  # held units left as a sale
    EXTEND = "extend"  # a hold's expiry moved (no units change)


# CONVENTIONS rule 7: every allowed move of a hold, and nothing else.
HOLDS: Transitions[HoldStatus] = Transitions(
    "hold",
    {HoldStatus.ACTIVE: {HoldStatus.CONSUMED, HoldStatus.RELEASED, HoldStatus.LAPSED}},
)


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    title = "Not enough stock is available"
    message = "Only %(available)s available, %(requested)s requested"


class BelowHeld(Conflict):
    code = "below_held"
    title = "The count is below the units held for customers"
    message = "%(held)s units are held for customers; the count cannot be below that"


class StockLimitExceeded(ValidationFailed):
    code = "stock_limit_exceeded"
    title = "That would put more units at one location than Loopmall counts"
    message = "A location holds at most %(most)s units of a SKU"


class HoldTtlOutOfRange(ValidationFailed):
    code = "hold_ttl_out_of_range"
    title = "A hold lasts from one second to seven days"
    message = "ttl must be between %(min_seconds)s and %(max_seconds)s seconds"


class LocationCodeTaken(Conflict):
    code = "location_code_taken"
    title = "Another location already uses this code"
    message = "A location already uses the code %(location_code)s"


def check_ttl(ttl: timedelta) -> None:
    if not MIN_HOLD_TTL <= ttl <= MAX_HOLD_TTL:
        raise HoldTtlOutOfRange(
            f"ttl must be between {int(MIN_HOLD_TTL.total_seconds())} and "
            f"{int(MAX_HOLD_TTL.total_seconds())} seconds",
            field="ttl_seconds",
            min_seconds=int(MIN_HOLD_TTL.total_seconds()),
            max_seconds=int(MAX_HOLD_TTL.total_seconds()),
        )


def check_quantity(quantity: int, field: str = "quantity") -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValidationFailed(f"{field} must be a whole number", field=field)
    if not 1 <= quantity <= MAX_UNITS:
        raise OutOfRange(
            f"{field} must be between 1 and {MAX_UNITS}", field=field, low=1, high=MAX_UNITS
        )


def clean_text(value: str, *, field: str, max_length: int, required: bool = True) -> str:
    """``value`` stripped; 422 if empty (when required), too long or with control chars."""
    value = check_text(value.strip(), field=field)
    if (required and not value) or len(value) > max_length:
        raise ValidationFailed(
            f"{field} must be {'1' if required else '0'}–{max_length} characters of text",
            field=field,
        )
    return value


def could_be_id(value: str) -> bool:
    """An id with control characters cannot exist (and must not reach PostgreSQL)."""
    return bool(value) and len(value) <= 64 and is_clean(value)
