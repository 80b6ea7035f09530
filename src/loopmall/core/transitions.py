"""State machines as tables of allowed moves (CONVENTIONS rule 7), in one shape.

A domain declares its table once::

    HOLDS = Transitions(
        "hold",
        {
            HoldStatus.ACTIVE: {HoldStatus.CONSUMED, HoldStatus.RELEASED, HoldStatus.LAPSED},
            HoldStatus.CONSUMED: set(),
        },
    )

and every change of state goes through ``HOLDS.check(current, target)``, which raises the
domain's own error (with its stable ``code``) for a move the table does not list. A move
may name a guard, a condition on facts the status alone does not hold (an order's way of
paying, say): ``{current: {target: guard}}``; ``check`` then needs those facts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from loopmall.core.errors import IllegalTransition, LoopmallError

S = TypeVar("S", bound=str)

# A condition on the facts of the thing that moves; called only for the move that names it.
Guard = Callable[[Any], bool]
# Builds the error of a refused move from the current and the target status (their values).
ErrorFactory = Callable[[str, str], LoopmallError]


def always(_: Any) -> bool:
    """The guard of a move allowed whatever the facts."""
    return True


def illegal(name: str, error: type[LoopmallError] = IllegalTransition) -> ErrorFactory:
    """The usual refusal: ``error("A paid order cannot become created", current=…, target=…)``."""

    def make(current: str, target: str) -> LoopmallError:
        return error(f"A {current} {name} cannot become {target}", current=current, target=target)

    return make


class Transitions(Generic[S]):
    """The allowed moves of one kind of thing, and the one check of a move against them.

    ``moves`` maps each status to where it may go: a collection of statuses, or a mapping
    of status → guard when some moves depend on facts. A status that only appears as a
    target is terminal. Statuses may be given as their plain string values (as read from
    the database): ``StrEnum`` members hash and compare as their values.
    """

    def __init__(
        self,
        name: str,
        moves: Mapping[S, Collection[S] | Mapping[S, Guard]],
        *,
        error: ErrorFactory | None = None,
    ) -> None:
        self.name = name
        self._error = error or illegal(name)
        guards: dict[tuple[S, S], Guard] = {}
        # The same, looked up by plain strings too (a status read from the database).
        lookup: dict[tuple[str, str], Guard] = {}
        targets: dict[S, dict[S, None]] = {}  # a dict keeps the table's order
        for current, allowed in moves.items():
            targets.setdefault(current, {})
            named = allowed if isinstance(allowed, Mapping) else dict.fromkeys(allowed, always)
            for target, guard in named.items():
                guards[(current, target)] = lookup[(current, target)] = guard
                targets[current][target] = None
                targets.setdefault(target, {})
        self._guards = lookup
        self._targets: dict[str, tuple[S, ...]] = {frm: tuple(to) for frm, to in targets.items()}
        self.states: tuple[S, ...] = tuple(targets)
        self.guards: Mapping[tuple[S, S], Guard] = MappingProxyType(guards)
        self.pairs: frozenset[tuple[S, S]] = frozenset(guards)
        # Where each status may go (guards aside): the table as it reads.
        self.moves: Mapping[S, frozenset[S]] = MappingProxyType(
            {frm: frozenset(to) for frm, to in targets.items()}
        )

    def allows(self, current: S | str, target: S | str, facts: Any = None) -> bool:
        """Whether the table lists ``current → target`` and its guard (if any) holds."""
        guard = self._guards.get((current, target))
        return guard is not None and (guard is always or guard(facts))

    def check(self, current: S | str, target: S | str, facts: Any = None) -> None:
        """Raise the domain's error unless :meth:`allows` the move."""
        if not self.allows(current, target, facts):
            raise self._error(_value(current), _value(target))

    def allowed_from(self, current: S | str, facts: Any = None) -> list[S]:
        """Where ``current`` may go (with these facts), in the table's order."""
        return [to for to in self._targets.get(current, ()) if self.allows(current, to, facts)]

    def sources_of(self, target: S | str) -> list[str]:
        """The values of the statuses from which ``target`` may be reached (guards aside):
        what a conditional ``UPDATE … WHERE status IN (…)`` may move."""
        return [_value(frm) for frm in self.states if (frm, target) in self._guards]

    def is_terminal(self, current: S | str) -> bool:
        """True for a status nothing moves on from (and for one the table does not know)."""
        return not self._targets.get(current)

    def __repr__(self) -> str:
        return f"Transitions({self.name!r}, {len(self.pairs)} moves)"


def _value(status: str) -> str:
    return str(status.value) if isinstance(status, Enum) else str(status)
