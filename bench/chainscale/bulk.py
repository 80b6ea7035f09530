"""Bulk loading for the chain-scale world: rows as tuples, ids given by the loader.

PostgreSQL gets COPY (asyncpg's ``copy_records_to_table``; JSON columns as text), SQLite a
multi-row executemany through SQLAlchemy Core (its type processing writes the naive UTC
text the app reads) in large transactions. Ids are allocated here, from each table's
current maximum, so children can point at parents without a round trip; afterwards
``fix_sequences`` moves PostgreSQL's identities past them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.db import Base
from loopmall.models import import_all_models

SQLITE_CHUNK = 10_000
PG_CHUNK = 100_000

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def table(name: str) -> Table:
    import_all_models()
    found: Table = Base.metadata.tables[name]
    return found


class PublicIds:
    """Public ids in the app's shape (``prefix_`` + 16 of Crockford's base32), made fast:
    a random run tag and a counter, so a million of them cost no ``secrets`` call each."""

    def __init__(self, tag: int) -> None:
        self.tag = "".join(_ALPHABET[(tag >> (5 * k)) & 31] for k in range(6))

    def __call__(self, prefix: str, n: int) -> str:
        chars = []
        for _ in range(10):
            chars.append(_ALPHABET[n & 31])
            n >>= 5
        return f"{prefix}_{self.tag}{''.join(chars)}"


class Ids:
    """The next free id of each table, read once; ``take(table, n)`` hands out a range."""

    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    async def start(self, session: AsyncSession, name: str) -> None:
        t = table(name)
        top = await session.scalar(select(func.coalesce(func.max(t.c.id), 0)))
        self.next[name] = int(top or 0) + 1

    def take(self, name: str, n: int = 1) -> int:
        first = self.next[name]
        self.next[name] = first + n
        return first


def on_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def load(
    session: AsyncSession, name: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into table ``name``."""
    if not rows:
        return
    t = table(name)
    if on_postgres(session):
        json_at = [i for i, c in enumerate(columns) if isinstance(t.c[c].type, JSON)]
        if json_at:
            rows = [
                tuple(
                    json.dumps(v, ensure_ascii=False) if i in json_at else v
                    for i, v in enumerate(r)
                )
                for r in rows
            ]
        conn = await session.connection()
        raw = await conn.get_raw_connection()
        for i in range(0, len(rows), PG_CHUNK):
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                name, records=rows[i : i + PG_CHUNK], columns=list(columns)
            )
        return
    for i in range(0, len(rows), SQLITE_CHUNK):
        await session.execute(
            t.insert(), [dict(zip(columns, r, strict=True)) for r in rows[i : i + SQLITE_CHUNK]]
        )


async def fix_sequences(session: AsyncSession, names: Sequence[str]) -> None:
    """PostgreSQL: each table's identity past the ids the loader gave (SQLite needs none)."""
    if not on_postgres(session):
        return
    for name in names:
        await session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {name}))"
            )
        )
