"""The fitting and hold outcomes are tables of moves: what is listed happens, the rest is
refused with ``illegal_transition``; every ended fitting gives its hold a final outcome."""

from __future__ import annotations

import itertools

import pytest

from loopmall.core.errors import IllegalTransition
from loopmall.guides.rules import (
    FITTING_MOVES,
    HOLD_MOVES,
    OUTCOME_OF_HOLD,
    FittingStatus,
    HoldOutcome,
    check_fitting_move,
    check_hold_move,
)


def test_every_fitting_move_outside_the_table_is_refused() -> None:
    allowed = 0
    for current, target in itertools.product(FittingStatus, FittingStatus):
        if target in FITTING_MOVES[current]:
            check_fitting_move(current.value, target)
            allowed += 1
            continue
        with pytest.raises(IllegalTransition) as caught:
            check_fitting_move(current.value, target)
        assert caught.value.extra == {"current": current.value, "target": target.value}
    assert allowed == 4  # booked → sold | released | no_show | cancelled


def test_every_hold_move_outside_the_table_is_refused() -> None:
    allowed = 0
    for current, target in itertools.product(HoldOutcome, HoldOutcome):
        if target in HOLD_MOVES[current]:
            check_hold_move(current.value, target)
            allowed += 1
            continue
        with pytest.raises(IllegalTransition):
            check_hold_move(current.value, target)
    assert allowed == 3  # active → sold | released | no_show


def test_each_ending_of_a_fitting_ends_its_hold() -> None:
    for target in FITTING_MOVES[FittingStatus.BOOKED]:
        outcome = OUTCOME_OF_HOLD[target]
        assert outcome in HOLD_MOVES[HoldOutcome.ACTIVE]
        assert HOLD_MOVES[outcome] == frozenset()
