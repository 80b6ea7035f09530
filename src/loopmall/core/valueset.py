"""Filters on a set of values that bind one parameter, however large the set.

``column.in_(values)`` binds one parameter per value: a list that grows with the merchant
(every store, every guide, a store manager's stores) outgrows asyncpg's 32,767 parameters
(the statement fails) and SQLite's limit, and is slow long before that. :func:`one_of`
sends the whole set as one value instead — a PostgreSQL array (``= ANY(:values)``) or, on
SQLite, a JSON array read back with ``json_each`` — so the statement's size and its plan
do not depend on the set's size. :func:`chunks` cuts lists for writes that must be split
(multi-row inserts, deletes by id).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import BigInteger, String, TypeDecorator, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Boolean, TypeEngine

T = TypeVar("T")

# Rows per statement for writes that must be split: well under every driver's parameter
# limit even for wide rows (500 rows × 60 columns < 32,767).
CHUNK = 500


class _ValueList(TypeDecorator[list[Any]]):
    """A list of ints or strings bound as one value: an array on PostgreSQL, JSON text
    elsewhere."""

    impl = String
    cache_ok = True

    def __init__(self, item: TypeEngine[Any]) -> None:
        super().__init__()
        self.item = item

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(self.item))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return list(value)
        return json.dumps(list(value), ensure_ascii=False)


class OneOf(ColumnElement[bool]):
    """``column`` is one of the bound set (see the module's docstring)."""

    inherit_cache = True
    type = Boolean()
    # A comparison already: no "= 1" appended where booleans are not native (SQLite).
    _is_implicitly_boolean = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: BindParameter[Any]) -> None:
        self.column = column
        self.values = values


@compiles(OneOf)
def _one_of_json(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    values = compiler.process(element.values, **kw)
    return f"{column} IN (SELECT value FROM json_each({values}))"  # noqa: S608 (compiled SQL)


@compiles(OneOf, "postgresql")
def _one_of_array(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    values = compiler.process(element.values, **kw)
    return f"{column} = ANY({values})"


def one_of(column: Any, values: Iterable[int] | Iterable[str]) -> ColumnElement[bool]:
    """``column IN values`` with one bound parameter for the whole set (ints or strings,
    by the column's type). An empty set matches nothing."""
    items = sorted(set(values))  # type: ignore[type-var]
    item: TypeEngine[Any] = (
        String() if isinstance(getattr(column, "type", None), String) else BigInteger()
    )
    return OneOf(column, bindparam("one_of", items, type_=_ValueList(item), unique=True))


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in consecutive slices of at most ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
