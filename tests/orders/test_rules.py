"""The order state machine is one table: every listed move is allowed under its condition,
every other move is refused with ``illegal_order_transition``."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from loopmall.core.errors import IllegalTransition
from loopmall.orders.rules import (
    MOVES,
    Fulfilment,
    IllegalOrderTransition,
    OrderKind,
    OrderStatus,
    PaymentMethod,
    allowed,
    check_fulfilment,
    check_move,
    next_statuses,
)

S = OrderStatus


@dataclass(frozen=True)
class Facts:
    kind: str
    fulfilment: str
    payment_method: str
    refund_from: str | None = None


ONLINE_DELIVERY = Facts(OrderKind.MALL, Fulfilment.DELIVERY, PaymentMethod.ONLINE)
ONLINE_PICKUP = Facts(OrderKind.MALL, Fulfilment.PICKUP, PaymentMethod.ONLINE)
COD_DELIVERY = Facts(OrderKind.MALL, Fulfilment.DELIVERY, PaymentMethod.COD)
COD_PICKUP = Facts(OrderKind.MALL, Fulfilment.PICKUP, PaymentMethod.COD)
FACE_TO_FACE = Facts(OrderKind.FACE_TO_FACE, Fulfilment.NONE, PaymentMethod.ONLINE)
ALL_FACTS = [ONLINE_DELIVERY, ONLINE_PICKUP, COD_DELIVERY, COD_PICKUP, FACE_TO_FACE]


def test_every_move_outside_the_table_is_refused_with_a_stable_code() -> None:
    refused = 0
    for facts, current, target in itertools.product(ALL_FACTS, S, S):
        if (current, target) in MOVES and MOVES[(current, target)](facts):
            check_move(facts, current, target)
            continue
        with pytest.raises(IllegalOrderTransition) as caught:
            check_move(facts, current, target)
        assert isinstance(caught.value, IllegalTransition)
        assert caught.value.code == "illegal_order_transition"
        assert caught.value.status == 409
        assert caught.value.extra == {"current": current.value, "target": target.value}
        refused += 1
    # Of 5 kinds of order × 8 × 8 moves, 56 are allowed (none of the returns from a refund
    # request: these orders have none open).
    assert refused == 264


@pytest.mark.parametrize(
    ("facts", "path"),
    [
        (ONLINE_DELIVERY, [S.CREATED, S.PAID, S.SHIPPED, S.COMPLETED]),
        (ONLINE_PICKUP, [S.CREATED, S.PAID, S.READY_FOR_PICKUP, S.COMPLETED]),
        (COD_DELIVERY, [S.CREATED, S.SHIPPED, S.COMPLETED]),
        (COD_PICKUP, [S.CREATED, S.READY_FOR_PICKUP, S.COMPLETED]),
        (FACE_TO_FACE, [S.CREATED, S.PAID, S.COMPLETED]),
        (ONLINE_DELIVERY, [S.CREATED, S.PAID, S.REFUND_REQUESTED, S.REFUNDED]),
        (
            Facts(OrderKind.MALL, Fulfilment.PICKUP, PaymentMethod.ONLINE, "ready_for_pickup"),
            [S.CREATED, S.PAID, S.READY_FOR_PICKUP, S.REFUND_REQUESTED, S.READY_FOR_PICKUP],
        ),
        (ONLINE_DELIVERY, [S.CREATED, S.CANCELLED]),
    ],
)
def test_the_paths_an_order_takes(facts: Facts, path: list[OrderStatus]) -> None:
    for current, target in itertools.pairwise(path):
        assert allowed(facts, current, target), (current, target)


def test_the_decisive_refusals() -> None:
    # Paid orders are refunded, not cancelled; delivery never waits for pickup; an unpaid
    # online order never ships; cash on delivery is never "paid" by a callback.
    assert not allowed(ONLINE_DELIVERY, S.PAID, S.CANCELLED)
    assert not allowed(ONLINE_DELIVERY, S.PAID, S.READY_FOR_PICKUP)
    assert not allowed(ONLINE_PICKUP, S.PAID, S.SHIPPED)
    assert not allowed(ONLINE_DELIVERY, S.CREATED, S.SHIPPED)
    assert not allowed(COD_DELIVERY, S.CREATED, S.PAID)
    assert not allowed(ONLINE_DELIVERY, S.PAID, S.COMPLETED)
    assert not allowed(COD_DELIVERY, S.COMPLETED, S.REFUND_REQUESTED)
    for final in (S.CANCELLED, S.REFUNDED):
        assert next_statuses(ONLINE_DELIVERY, final) == []


def test_a_refund_request_returns_only_where_it_came_from() -> None:
    from_shipped = Facts(OrderKind.MALL, Fulfilment.DELIVERY, PaymentMethod.ONLINE, "shipped")
    assert next_statuses(from_shipped, S.REFUND_REQUESTED) == [S.REFUNDED, S.SHIPPED]
    with pytest.raises(IllegalOrderTransition):
        check_fulfilment(from_shipped, S.REFUND_REQUESTED, S.SHIPPED)  # not a new shipment


def test_next_statuses_follow_the_table() -> None:
    assert next_statuses(ONLINE_DELIVERY, S.CREATED) == [S.PAID, S.CANCELLED]
    assert next_statuses(COD_PICKUP, S.CREATED) == [S.CANCELLED, S.READY_FOR_PICKUP]
    assert set(next_statuses(ONLINE_PICKUP, S.PAID)) == {
        S.READY_FOR_PICKUP,
        S.COMPLETED,
        S.REFUND_REQUESTED,
        S.REFUNDED,
    }
