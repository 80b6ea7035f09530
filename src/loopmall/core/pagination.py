"""Cursor pagination: opaque cursors over ``(created_at, id)`` or ``id`` order.

A cursor is the last row's key, base64-encoded and signed-free (it grants nothing: the
tenant filter still applies), so clients cannot depend on offsets.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from loopmall.core.errors import OutOfRange, ValidationFailed

T = TypeVar("T")

MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= to get the next page")


def encode_cursor(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("The cursor is not valid", field="cursor") from exc


async def paginate_by_id(
    session: AsyncSession,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[int],
    *,
    cursor: str | None,
    limit: int,
    descending: bool = False,
) -> tuple[list[Any], str | None]:
    """Keyset pagination on an integer id, ascending (newest first with ``descending``).
    Returns (rows, next_cursor)."""
    if limit < 1 or limit > MAX_LIMIT:
        raise OutOfRange(
            f"limit must be between 1 and {MAX_LIMIT}", field="limit", low=1, high=MAX_LIMIT
        )
    if cursor:
        after = decode_cursor(cursor)
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
            raise ValidationFailed("The cursor is not valid", field="cursor")
        stmt = stmt.where(id_column < after if descending else id_column > after)
    order = id_column.desc() if descending else id_column
    rows = list((await session.scalars(stmt.order_by(order).limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(getattr(rows[-1], id_column.key))
    return rows, next_cursor
