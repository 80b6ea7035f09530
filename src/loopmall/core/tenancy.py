"""Tenancy: a merchant is a tenant, and it is always passed explicitly (rule 3).

Every tenant table mixes in :class:`TenantMixin` (a ``merchant_id`` column, indexed, with
a foreign key to ``merchants``). Every tenant query starts from :func:`scoped`, which
applies the merchant filter, so forgetting it takes effort. A test walks the metadata and
fails if a table that is not on the global list lacks ``merchant_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ForeignKey, Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from loopmall.core.db import BigId

T = TypeVar("T")

# Tables that are not owned by one merchant. Everything else must carry merchant_id.
GLOBAL_TABLES = frozenset(
    {
        "merchants",
        "operators",
        "outbox_events",
        "event_deliveries",
        "idempotency_records",
        "auth_sessions",
        "login_attempts",
        "consumers",
        "consumer_wechat_ids",
    }
)


@dataclass(frozen=True, slots=True)
class Tenant:
    """The merchant a piece of work is for: its internal id and its public slug."""

    id: int
    slug: str


class TenantMixin:
    @declared_attr
    def merchant_id(cls) -> Mapped[int]:
        return mapped_column(
            BigId, ForeignKey("merchants.id", ondelete="CASCADE"), index=True, nullable=False
        )


def scoped(model: type[T], tenant: Tenant, *extra: Any) -> Select[T]:
    """``SELECT model WHERE merchant_id = tenant`` plus any extra criteria."""
    stmt = select(model).where(model.merchant_id == tenant.id)  # type: ignore[attr-defined]
    if extra:
        stmt = stmt.where(*extra)
    return stmt


async def tenant_of(session: AsyncSession, merchant_id: int) -> Tenant:
    """The full tenant (its slug too) of work that knows only the merchant id: an event, a
    provider's callback. One primary-key read; not remembered, so a process never answers
    with a merchant that is gone (tests reuse ids)."""
    slug = await session.scalar(
        text("SELECT slug FROM merchants WHERE id = :id"), {"id": merchant_id}
    )
    return Tenant(merchant_id, str(slug or ""))
