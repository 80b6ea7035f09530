"""The rules of a guide's discount on a store sale, and the store sale's moves: pure, no
database (issue #11, case 1)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopmall.orders.rules import (
    Fulfilment,
    OrderKind,
    OrderStatus,
    PaymentMethod,
    allowed,
    next_statuses,
)
from loopmall.orders.store_discount import (
    DiscountApproval,
    DiscountAsk,
    DiscountInvalid,
    approval_for,
    unit_after,
    within_cap,
)

S = OrderStatus


@dataclass(frozen=True)
class Facts:
    kind: str
    fulfilment: str
    payment_method: str
    refund_from: str | None = None


STORE_SALE = Facts(OrderKind.STORE_SALE, Fulfilment.NONE, PaymentMethod.COD)
PRICES = st.integers(min_value=0, max_value=100_000_000)


def test_a_store_sale_is_paid_before_it_completes() -> None:
    # The hole of #11: created → completed with no money. Now only through paid.
    assert not allowed(STORE_SALE, S.CREATED, S.COMPLETED)
    assert next_statuses(STORE_SALE, S.CREATED) == [S.PAID, S.CANCELLED]
    assert next_statuses(STORE_SALE, S.PAID) == [S.COMPLETED]
    # Never refunded through a provider, never shipped.
    assert next_statuses(STORE_SALE, S.COMPLETED) == []


def test_the_three_forms_of_a_discount() -> None:
    assert unit_after(59900, DiscountAsk(off_fen=900)) == 59000
    assert unit_after(59900, DiscountAsk(off_bp=1000)) == 53910
    assert unit_after(59900, DiscountAsk(final_unit_fen=49900)) == 49900
    # A percentage off is rounded half-up to the fen (money.apply_basis_points).
    assert unit_after(999, DiscountAsk(off_bp=50)) == 994  # 4.995 fen off → 5
    assert unit_after(59900, DiscountAsk(off_bp=10_000)) == 0


@pytest.mark.parametrize(
    ("ask", "field"),
    [
        (DiscountAsk(), "discount"),
        (DiscountAsk(off_fen=1, final_unit_fen=1), "discount"),
        (DiscountAsk(off_fen=-1), "off_fen"),
        (DiscountAsk(off_fen=60000), "off_fen"),
        (DiscountAsk(off_bp=10_001), "off_bp"),
        (DiscountAsk(final_unit_fen=59901), "final_unit_fen"),
        (DiscountAsk(final_unit_fen=-1), "final_unit_fen"),
        (DiscountAsk(off_fen=True), "off_fen"),
    ],
)
def test_a_discount_that_is_not_one_is_refused(ask: DiscountAsk, field: str) -> None:
    with pytest.raises(DiscountInvalid) as caught:
        unit_after(59900, ask)
    assert caught.value.code == "discount_invalid"
    assert caught.value.extra["field"] == field


def test_the_cap_is_exact() -> None:
    # 10 % of 59,900 is 5,990: that much is within, one fen more is not.
    assert approval_for(59900, 53910, 1000) is DiscountApproval.WITHIN_CAP
    assert approval_for(59900, 53909, 1000) is DiscountApproval.PENDING
    assert approval_for(59900, 59900, 0) is DiscountApproval.NONE
    assert approval_for(59900, 59899, 0) is DiscountApproval.PENDING
    assert approval_for(0, 0, 0) is DiscountApproval.NONE


@given(
    price=PRICES,
    off=st.integers(min_value=0, max_value=100_000_000),
    bp=st.integers(min_value=0, max_value=10_000),
    cap=st.integers(min_value=0, max_value=10_000),
)
def test_no_discount_raises_the_price_or_passes_the_cap_unapproved(
    price: int, off: int, bp: int, cap: int
) -> None:
    for ask in (DiscountAsk(off_fen=off), DiscountAsk(off_bp=bp), DiscountAsk(final_unit_fen=off)):
        try:
            final = unit_after(price, ask)
        except DiscountInvalid:
            continue
        assert 0 <= final <= price
        approval = approval_for(price, final, cap)
        if approval is not DiscountApproval.PENDING:
            # What the guide gives alone is at most cap/10000 of the price.
            assert (price - final) * 10_000 <= cap * price
            assert within_cap(price, final, cap)
