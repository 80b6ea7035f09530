"""Money is ``int`` fen (CNY); percentages are basis points (CONVENTIONS rule 4)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

Fen = int
BASIS_POINTS = 10_000


def apply_basis_points(amount: Fen, bps: int) -> Fen:
    """``amount × bps / 10000`` rounded half-up to the fen: the one rounding rule."""
    if amount < 0 or bps < 0:
        raise ValueError("amount and basis points must not be negative")
    q, r = divmod(amount * bps, BASIS_POINTS)
    return q + (1 if r * 2 >= BASIS_POINTS else 0)


def parse_yuan(text: str) -> Fen:
    """Parse a yuan amount a person typed ("12.5", "¥38") into fen; at most 2 decimals."""
    cleaned = text.strip().replace("¥", "").replace("￥", "").replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a positive amount: {text!r}")
    fen = value * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"more than two decimals: {text!r}")
    return int(fen.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_yuan(fen: Fen) -> str:
    """``1234`` → ``"12.34"``."""
    sign = "-" if fen < 0 else ""
    q, r = divmod(abs(fen), 100)
    return f"{sign}{q}.{r:02d}"
