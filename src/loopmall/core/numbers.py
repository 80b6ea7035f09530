"""Numbers from outside: amounts, stock, quantities and rates (issue #11 case 17).

A JSON request gives a number as a JSON integer, and only so: ``true``, ``"12"`` and
``12.5`` are refused (422 naming the field) — Pydantic's lax mode would take the first two
as 1 and 12. ``12.0`` is refused as well: strict integers admit no floats, and no client
of ours sends one. The kinds with one bound everywhere are defined here, once:

* ``FenAmount`` — money in fen, 0 … ``MAX_FEN`` (below PostgreSQL's INTEGER limit and above
  any real price or order); ``PositiveFen`` starts at 1;
* ``BasisPoints`` — a rate, 0 … 10,000 (100 %);
* ``StrictInt`` — any other count (stock, quantities, seconds), with the field's own bounds
  beside it (``Field(ge=…, le=…)``): a sale's stock, a cart line's quantity (≤ 99) and a
  hold's TTL have different honest limits, stated where the field is.

Form posts parse strings: :func:`form_int` accepts ``"12"`` (with spaces around it, and
full-width ``"１２"`` as a Chinese input method in full-width mode types it) but refuses
``"12abc"``, ``"true"``, ``"1e3"``, ``"1_000"`` and ``"²"`` with a form error.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict

from loopmall.core.errors import ValidationFailed
from loopmall.core.money import BASIS_POINTS

# Above any real price or order total, below PostgreSQL's INTEGER limit (2,147,483,647).
MAX_FEN = 1_000_000_000

StrictInt = Annotated[int, Strict()]
FenAmount = Annotated[int, Strict(), Field(ge=0, le=MAX_FEN, description="Integer fen (分)")]
PositiveFen = Annotated[int, Strict(), Field(ge=1, le=MAX_FEN, description="Integer fen (分)")]
BasisPoints = Annotated[
    int, Strict(), Field(ge=0, le=BASIS_POINTS, description="Basis points (1/10,000)")
]


# Full-width digits and signs (U+FF10–FF19, ＋, －) → ASCII; nothing else is a digit here.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９＋－", "0123456789+-")


class NotAWholeNumber(ValidationFailed):
    """A form's number that is not a whole number within its bounds. The detail is the
    title, so that pages translate it (``_(error.detail)``); the bounds travel as extras."""

    code = "invalid_number"
    title = "Enter a whole number"

    def __init__(self, field: str, **bounds: int) -> None:
        super().__init__(self.title, field=field, **bounds)


def form_int(value: str | None, *, field: str, ge: int | None = None, le: int | None = None) -> int:
    """A whole number typed into a form: ASCII digits with an optional sign, within bounds.

    Raises :class:`NotAWholeNumber` (422 ``invalid_number`` naming ``field``) otherwise —
    ``int()`` alone would take ``"1_000"`` and ``"٣"``.
    """
    text = (value or "").strip().translate(_FULL_WIDTH)
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 12:
        raise NotAWholeNumber(field)
    number = int(text)
    if (ge is not None and number < ge) or (le is not None and number > le):
        limits = {k: v for k, v in (("min", ge), ("max", le)) if v is not None}
        raise NotAWholeNumber(field, **limits)
    return number
