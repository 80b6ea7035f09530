"""A guard for the statements a piece of work sends: how many parameters each binds.

``one_of`` (``core.valueset``) binds a whole set as one parameter; a statement that binds
one parameter per store, guide or customer grows with the merchant until PostgreSQL
refuses it (asyncpg: 32,767). Tests run the work against a merchant with more rows than
``LIMIT`` and assert no statement came near it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from loopmall.core.state import AppState

LIMIT = 1_000


@dataclass
class Statements:
    count: int = 0
    most_params: int = 0
    worst: str = ""
    sql: list[str] = field(default_factory=list)

    def seen(self, statement: str, parameters: Any, executemany: bool) -> None:
        rows = parameters if executemany else [parameters]
        for row in rows or [()]:
            bound = len(row) if row is not None else 0
            if bound > self.most_params:
                self.most_params, self.worst = bound, statement[:200]
        self.count += 1
        self.sql.append(statement)


@contextmanager
def counting_params(state: AppState) -> Iterator[Statements]:
    """Every statement sent through the app's engines while the block runs."""
    seen = Statements()

    def before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        seen.seen(statement, parameters, executemany)

    engines = [e.sync_engine for e in state.engines]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", before)
