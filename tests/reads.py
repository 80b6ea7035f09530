"""What a piece of work reads: statements sent and rows fetched (issue #11: no request does
work proportional to the merchant's size). Rows are counted from the async drivers' buffers
(asyncpg and aiosqlite both fetch a result into ``cursor._rows`` on execute)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from loopmall.core.state import AppState


@dataclass
class Reads:
    statements: list[str] = field(default_factory=list)
    parameters: list[Any] = field(default_factory=list)
    rows: int = 0


@contextmanager
def reading(state: AppState) -> Iterator[Reads]:
    seen = Reads()

    def after(_conn: Any, cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            return
        seen.statements.append(statement)
        seen.parameters.append(parameters)
        seen.rows += len(getattr(cursor, "_rows", None) or ())

    for engine in state.engines:
        event.listen(engine.sync_engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        for engine in state.engines:
            event.remove(engine.sync_engine, "after_cursor_execute", after)
