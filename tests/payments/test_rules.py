"""The payment and refund state tables, and our trade numbers."""

from __future__ import annotations

import re

import pytest

from loopmall.core.errors import IllegalTransition
from loopmall.payments.rules import (
    PAYMENT_MOVES,
    REFUND_MOVES,
    PaymentState,
    RefundState,
    check_move,
    check_refund_move,
    new_code,
    new_trade_no,
)

P = PaymentState


def test_a_paid_payment_never_goes_back_to_unpaid() -> None:
    paid = {P.SUCCEEDED, P.PARTIALLY_REFUNDED, P.REFUNDED}
    for state in paid:
        assert PAYMENT_MOVES[state] <= paid


def test_money_the_provider_took_can_always_be_recorded() -> None:
    """Whatever we thought of an attempt (closed, failed), a provider's "paid" is applied."""
    for state in (P.CREATED, P.PENDING, P.CLOSED, P.FAILED):
        check_move(state.value, P.SUCCEEDED)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (P.REFUNDED, P.SUCCEEDED),
        (P.SUCCEEDED, P.PENDING),
        (P.CLOSED, P.PENDING),
        (P.PENDING, P.REFUNDED),
    ],
)
def test_illegal_payment_moves_raise(current: PaymentState, target: PaymentState) -> None:
    with pytest.raises(IllegalTransition):
        check_move(current.value, target)


def test_finished_refunds_stay_finished() -> None:
    assert REFUND_MOVES[RefundState.SUCCEEDED] == frozenset()
    assert REFUND_MOVES[RefundState.FAILED] == frozenset()
    with pytest.raises(IllegalTransition):
        check_refund_move("succeeded", RefundState.FAILED)


def test_trade_numbers_fit_both_providers_and_codes_are_unguessable() -> None:
    numbers = {new_trade_no("LM") for _ in range(1000)}
    assert len(numbers) == 1000
    assert all(re.fullmatch(r"LM[0-9A-Z]{24}", n) for n in numbers)
    codes = {new_code() for _ in range(1000)}
    assert len(codes) == 1000 and all(len(c) == 20 for c in codes)
