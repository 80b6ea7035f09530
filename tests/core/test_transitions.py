"""The one shape of a state table: ``core.transitions.Transitions``.

The generic check is property-tested against random tables (with and without guards);
then every table of the project is checked move by move, over every (current, target)
pair, against the moves it listed before the tables took this shape, with its domain's
stable error code."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopmall.core.errors import Conflict, IllegalTransition, LoopmallError
from loopmall.core.transitions import Transitions, always, illegal
from loopmall.flashsale import rules as flashsale
from loopmall.guides import rules as guides
from loopmall.inventory import rules as inventory
from loopmall.merchants import service as merchants
from loopmall.notifications import service as notifications
from loopmall.orders import rules as orders
from loopmall.payments import rules as payments
from loopmall.rebates import rules as rebates

STATES = ["a", "b", "c", "d", "e"]
tables = st.dictionaries(
    st.sampled_from(STATES), st.frozensets(st.sampled_from(STATES)), max_size=len(STATES)
)


@given(tables)
def test_check_refuses_exactly_the_moves_the_table_does_not_list(
    table: dict[str, frozenset[str]],
) -> None:
    machine = Transitions("thing", table)
    listed = {(frm, to) for frm, targets in table.items() for to in targets}
    known = set(table) | {to for targets in table.values() for to in targets}
    assert set(machine.states) == known
    assert machine.pairs == listed
    for current, target in itertools.product(STATES, STATES):
        assert machine.allows(current, target) is ((current, target) in listed)
        if (current, target) in listed:
            machine.check(current, target)
            continue
        with pytest.raises(IllegalTransition) as refused:
            machine.check(current, target)
        assert refused.value.code == "illegal_transition"
        assert refused.value.status == 409
        assert refused.value.detail == f"A {current} thing cannot become {target}"
        assert refused.value.extra == {"current": current, "target": target}
    for state in STATES:
        targets = table.get(state, frozenset())
        assert set(machine.allowed_from(state)) == targets
        assert machine.is_terminal(state) is (not targets)
        assert set(machine.sources_of(state)) == {f for f, to in listed if to == state}
        if state in known:
            assert machine.moves[state] == targets
        else:
            assert state not in machine.moves


@given(
    st.dictionaries(
        st.tuples(st.sampled_from(STATES), st.sampled_from(STATES)),
        st.booleans(),
        max_size=12,
    ),
    st.booleans(),
)
def test_a_guarded_move_is_allowed_only_when_its_guard_holds(
    moves: dict[tuple[str, str], bool], fact: bool
) -> None:
    """Each move's guard: ``True`` lets it through whatever the facts, ``False`` only when
    the fact holds."""

    def needs_fact(facts: bool) -> bool:
        return facts

    table: dict[str, dict[str, Callable[[Any], bool]]] = {}
    for (frm, to), unconditional in moves.items():
        table.setdefault(frm, {})[to] = always if unconditional else needs_fact
    machine = Transitions("thing", table)
    for current, target in itertools.product(STATES, STATES):
        expected = (current, target) in moves and (moves[(current, target)] or fact)
        assert machine.allows(current, target, fact) is expected
        assert (target in machine.allowed_from(current, fact)) is expected
        if expected:
            machine.check(current, target, fact)
        else:
            with pytest.raises(IllegalTransition):
                machine.check(current, target, fact)


class Light(StrEnum):
    RED = "red"
    GREEN = "green"
    AMBER = "amber"


class LightStuck(Conflict):
    code = "light_stuck"


LIGHTS = Transitions(
    "light",
    {Light.RED: [Light.GREEN], Light.GREEN: [Light.AMBER], Light.AMBER: [Light.RED]},
    error=illegal("light", LightStuck),
)


def test_a_status_read_as_a_plain_string_is_the_same_status() -> None:
    LIGHTS.check("red", Light.GREEN)
    LIGHTS.check(Light.RED, "green")
    assert LIGHTS.allowed_from("green") == [Light.AMBER]
    assert LIGHTS.sources_of(Light.RED) == ["amber"]
    assert type(LIGHTS.sources_of(Light.RED)[0]) is str  # bound as text in an UPDATE
    with pytest.raises(LightStuck) as refused:
        LIGHTS.check("red", Light.AMBER)
    assert (refused.value.code, refused.value.detail) == (
        "light_stuck",
        "A red light cannot become amber",
    )
    assert refused.value.extra == {"current": "red", "target": "amber"}
    with pytest.raises(LightStuck):
        LIGHTS.check("blue", Light.RED)  # a status the table does not know moves nowhere
    assert LIGHTS.is_terminal("blue")


def test_targets_keep_the_order_the_table_lists_them_in() -> None:
    machine = Transitions("x", {"a": {"c": always, "b": always, "d": always}})
    assert machine.allowed_from("a") == ["c", "b", "d"]
    assert list(machine.guards) == [("a", "c"), ("a", "b"), ("a", "d")]


# Every table of the project with the moves it listed before it took this shape, and the
# error a refused move raises (code, message); the message's ``{c}``/``{t}`` are the
# current and the target status.
@dataclass(frozen=True)
class Table:
    machine: Transitions[Any]
    moves: set[tuple[str, str]]
    code: str
    message: str
    extra: Callable[[str, str], dict[str, str]] = lambda c, t: {"current": c, "target": t}


PROJECT_TABLES: dict[str, Table] = {
    "order": Table(
        orders.ORDERS,
        {
            ("created", "paid"),
            ("created", "cancelled"),
            ("created", "shipped"),
            ("created", "ready_for_pickup"),
            ("paid", "shipped"),
            ("paid", "ready_for_pickup"),
            ("paid", "completed"),
            ("shipped", "completed"),
            ("ready_for_pickup", "completed"),
            ("paid", "refund_requested"),
            ("shipped", "refund_requested"),
            ("ready_for_pickup", "refund_requested"),
            ("completed", "refund_requested"),
            ("paid", "refunded"),
            ("shipped", "refunded"),
            ("ready_for_pickup", "refunded"),
            ("completed", "refunded"),
            ("refund_requested", "refunded"),
            ("refund_requested", "paid"),
            ("refund_requested", "shipped"),
            ("refund_requested", "ready_for_pickup"),
            ("refund_requested", "completed"),
        },
        "illegal_order_transition",
        "A {c} order cannot become {t}",
    ),
    "stock hold": Table(
        inventory.HOLDS,
        {("active", "consumed"), ("active", "released"), ("active", "lapsed")},
        "illegal_transition",
        "A {c} hold cannot become {t}",
    ),
    "flash-sale ticket": Table(
        flashsale.TICKETS,
        {("accepted", "ordered"), ("ordered", "paid"), ("ordered", "lapsed")},
        "illegal_ticket_transition",
        "A {c} ticket cannot become {t}",
    ),
    "distributor": Table(
        rebates.DISTRIBUTORS,
        {
            ("pending", "approved"),
            ("pending", "rejected"),
            ("approved", "revoked"),
            ("rejected", "pending"),
            ("revoked", "pending"),
            ("rejected", "approved"),
            ("revoked", "approved"),
        },
        "illegal_distributor_transition",
        "A distributor cannot go from {c} to {t}",
    ),
    "payment": Table(
        payments.PAYMENTS,
        {
            ("created", "pending"),
            ("created", "failed"),
            ("created", "closed"),
            ("created", "succeeded"),
            ("pending", "closed"),
            ("pending", "succeeded"),
            ("pending", "failed"),
            ("failed", "succeeded"),
            ("closed", "succeeded"),
            ("succeeded", "partially_refunded"),
            ("succeeded", "refunded"),
            ("partially_refunded", "partially_refunded"),
            ("partially_refunded", "refunded"),
        },
        "illegal_transition",
        "A {c} payment cannot become {t}",
    ),
    "refund": Table(
        payments.REFUNDS,
        {
            ("requested", "processing"),
            ("requested", "succeeded"),
            ("requested", "failed"),
            ("processing", "succeeded"),
            ("processing", "failed"),
        },
        "illegal_transition",
        "A {c} refund cannot become {t}",
    ),
    "fitting": Table(
        guides.FITTINGS,
        {
            ("booked", "sold"),
            ("booked", "released"),
            ("booked", "no_show"),
            ("booked", "cancelled"),
        },
        "illegal_transition",
        "A {c} fitting cannot become {t}",
    ),
    "guide's hold": Table(
        guides.HOLDS,
        {("active", "sold"), ("active", "released"), ("active", "no_show")},
        "illegal_transition",
        "A {c} hold cannot become {t}",
    ),
    "notification": Table(
        notifications.MOVES,
        {("pending", "sent"), ("pending", "failed")},
        "illegal_transition",
        "notification {c} → {t}",
        lambda c, t: {},
    ),
    "merchant": Table(
        merchants.STATUSES,
        {("active", "suspended"), ("suspended", "active")},
        "illegal_transition",
        "A merchant that is {c} cannot become {t}",
        lambda c, t: {"current_status": c},
    ),
}


class NoFacts:
    """Facts no guard may read: a move the table does not list is refused before any
    guard is asked."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(name)


@pytest.mark.parametrize("name", PROJECT_TABLES)
def test_every_table_refuses_every_move_it_does_not_list(name: str) -> None:
    table = PROJECT_TABLES[name]
    machine = table.machine
    assert {(str(f), str(t)) for f, t in machine.pairs} == table.moves
    states = [str(s) for s in machine.states]
    assert len(states) ** 2 > len(table.moves)
    for current, target in itertools.product(states, states):
        listed = (current, target) in table.moves
        guard = machine.guards.get((current, target))
        if listed:
            assert guard is not None
            if guard is always:
                machine.check(current, target)
                assert target in machine.moves[current]
            continue
        assert guard is None
        with pytest.raises(LoopmallError) as refused:
            machine.check(current, target, NoFacts())
        assert isinstance(refused.value, IllegalTransition)
        assert refused.value.code == table.code
        assert refused.value.status == 409
        assert refused.value.detail == table.message.format(c=current, t=target)
        assert refused.value.extra == table.extra(current, target)
        assert target not in machine.moves[current]
    for state in states:
        assert machine.is_terminal(state) is (not any(f == state for f, _ in table.moves))
