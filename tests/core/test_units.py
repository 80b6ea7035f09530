"""Pure rules of the core: money rounding, ids, cursors, tenancy of every table, clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopmall.core import clock
from loopmall.core.db import Base
from loopmall.core.errors import ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.money import apply_basis_points, format_yuan, parse_yuan
from loopmall.core.pagination import decode_cursor, encode_cursor
from loopmall.core.tenancy import GLOBAL_TABLES
from loopmall.models import import_all_models


def test_every_table_is_global_or_carries_merchant_id() -> None:
    import_all_models()
    missing = [
        name
        for name, table in Base.metadata.tables.items()
        if name not in GLOBAL_TABLES and "merchant_id" not in table.columns
    ]
    assert missing == []
    for name, table in Base.metadata.tables.items():
        if name not in GLOBAL_TABLES:
            column = table.columns["merchant_id"]
            assert not column.nullable, name
            assert (
                column.index
                or any(ix.columns[0].name == "merchant_id" for ix in table.indexes)
                or any(
                    next(iter(c.columns)).name == "merchant_id"
                    for c in table.constraints
                    if c.__class__.__name__ == "UniqueConstraint"
                )
            ), f"{name}.merchant_id is not indexed"


@pytest.mark.parametrize(
    ("amount", "bps", "expected"),
    [(1000, 500, 50), (999, 500, 50), (990, 500, 50), (989, 500, 49), (1, 5000, 1), (0, 9999, 0)],
)
def test_basis_points_round_half_up(amount: int, bps: int, expected: int) -> None:
    assert apply_basis_points(amount, bps) == expected


@given(st.integers(0, 10**9), st.integers(0, 10_000))
def test_basis_points_never_exceed_the_amount(amount: int, bps: int) -> None:
    result = apply_basis_points(amount, bps)
    assert 0 <= result <= amount
    assert abs(result * 10_000 - amount * bps) <= 5_000


@pytest.mark.parametrize(
    ("text", "fen"), [("12.5", 1250), ("¥38", 3800), ("0.01", 1), ("1,299.00", 129900)]
)
def test_parse_yuan(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["", "abc", "-1", "1.234", "NaN", "inf"])
def test_parse_yuan_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_yuan(text)


@given(st.integers(-(10**12), 10**12))
def test_format_then_parse_round_trips(fen: int) -> None:
    text = format_yuan(fen)
    if fen >= 0:
        assert parse_yuan(text) == fen
    else:
        assert text.startswith("-")


def test_public_ids_are_prefixed_random_and_unique() -> None:
    ids = {new_public_id("st") for _ in range(10_000)}
    assert len(ids) == 10_000
    sample = next(iter(ids))
    assert sample.startswith("st_")
    assert len(sample) == 3 + 16


@given(st.integers(0, 2**53))
def test_cursor_round_trips(value: int) -> None:
    assert decode_cursor(encode_cursor(value)) == value


def test_garbage_cursor_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor("%%%not-base64")


def test_frozen_clock_moves_only_when_told(frozen_clock: clock.FrozenClock) -> None:
    start = clock.now()
    assert clock.now() == start
    frozen_clock.advance(minutes=5)
    assert (clock.now() - start).total_seconds() == 300
    assert clock.now().tzinfo is not None
