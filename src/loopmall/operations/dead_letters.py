"""Dead letters: the event deliveries the backbone gave up on, for an operator to read and retry.

The rules of a delivery (attempts, backoff, when it is dead, what a retry resets) are the
backbone's (``core.outbox``); this module pages and filters the dead ones and retries them
on an operator's word, with answers an API and a page can give (404 for an unknown id, 409
for one that is not dead any more).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import outbox
from loopmall.core.errors import Conflict, NotFound, OutOfRange, ValidationFailed
from loopmall.core.models import EventDelivery, OutboxEvent
from loopmall.core.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from loopmall.merchants.models import Merchant

MAX_BULK = 500
MAX_ID = 2**63 - 1  # a BIGINT: a larger id can not exist, and PostgreSQL refuses to compare it


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"
    title = "No such event delivery"
    message = "No event delivery %(delivery_id)s"


class DeliveryNotDead(Conflict):
    code = "delivery_not_dead"
    title = "The delivery is not dead"
    message = "Delivery %(delivery_id)s is %(delivery_status)s, not dead"


@dataclass(frozen=True)
class DeadFilter:
    """What the operator narrowed the list to (None: any)."""

    subscriber: str | None = None
    topic: str | None = None
    merchant: str | None = None  # the merchant's code (slug), as operators know merchants


@dataclass(frozen=True)
class DeadLetter:
    delivery: EventDelivery
    event: OutboxEvent
    merchant_slug: str | None

    @property
    def error_summary(self) -> str:
        return error_summary(self.delivery.last_error)

    @property
    def error(self) -> str:
        return readable(self.delivery.last_error)


@dataclass
class RetryResult:
    retried: list[int] = field(default_factory=list)
    not_dead: list[int] = field(default_factory=list)
    not_found: list[int] = field(default_factory=list)


def readable(last_error: str | None) -> str:
    """The stored error with its line breaks back: the backbone stores it with control
    characters written as ``\\uXXXX`` escapes (a NUL quoted from a gateway's answer would
    fail the write on PostgreSQL), line feeds and tabs included, which a traceback is made
    of. Only for reading: the other escapes stay as they are."""
    if not last_error:
        return ""
    return last_error.replace("\\u000a", "\n").replace("\\u0009", "\t")


def error_summary(last_error: str | None) -> str:
    """The line that says what went wrong: the exception's own line after the traceback's
    frames (its first line, "Traceback (most recent call last):", says nothing), or the
    first line of an error that has no traceback. The stored text keeps only the end of a
    long traceback, so the frames are found by their indent, not by the header."""
    lines = [line for line in readable(last_error).splitlines() if line.strip()]
    if not lines:
        return ""
    last_frame = max((i for i, line in enumerate(lines) if line.startswith(" ")), default=-1)
    after = lines[last_frame + 1 :]
    chosen = after[0] if after else lines[0]
    return chosen.strip()[:300]


def _conditions(filters: DeadFilter) -> list[ColumnElement[bool]]:
    conditions = [EventDelivery.status == "dead"]
    if filters.subscriber:
        conditions.append(EventDelivery.subscriber == filters.subscriber)
    if filters.topic:
        conditions.append(EventDelivery.topic == filters.topic)
    if filters.merchant:
        ids = select(Merchant.id).where(Merchant.slug == filters.merchant.strip().lower())
        conditions.append(EventDelivery.merchant_id.in_(ids.scalar_subquery()))
    return conditions


async def list_dead(
    session: AsyncSession, filters: DeadFilter, *, cursor: str | None = None, limit: int = 50
) -> tuple[list[DeadLetter], str | None]:
    """Dead deliveries matching ``filters``, newest first (the latest breakage on top),
    with their events and merchants; returns (page, cursor of the next page or None)."""
    if limit < 1 or limit > MAX_LIMIT:
        raise OutOfRange(
            f"limit must be between 1 and {MAX_LIMIT}", field="limit", low=1, high=MAX_LIMIT
        )
    stmt = (
        select(EventDelivery, OutboxEvent, Merchant.slug)
        .join(OutboxEvent, OutboxEvent.id == EventDelivery.event_id)
        .outerjoin(Merchant, Merchant.id == EventDelivery.merchant_id)
        .where(*_conditions(filters))
    )
    if cursor:
        before = decode_cursor(cursor)
        if not isinstance(before, int) or isinstance(before, bool) or not 0 < before < 2**63:
            raise ValidationFailed("The cursor is not valid", field="cursor")
        stmt = stmt.where(EventDelivery.id < before)
    stmt = stmt.order_by(EventDelivery.id.desc()).limit(limit + 1)
    rows = [DeadLetter(d, e, slug) for d, e, slug in (await session.execute(stmt)).all()]
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].delivery.id)


async def dead_by_subscriber(session: AsyncSession) -> list[tuple[str, int]]:
    """How many dead deliveries each subscriber has (for the filter), by name."""
    stmt = (
        select(EventDelivery.subscriber, func.count())
        .where(EventDelivery.status == "dead")
        .group_by(EventDelivery.subscriber)
        .order_by(EventDelivery.subscriber)
    )
    return [(name, int(n)) for name, n in (await session.execute(stmt)).all()]


async def dead_topics(session: AsyncSession) -> list[str]:
    stmt = (
        select(EventDelivery.topic)
        .where(EventDelivery.status == "dead")
        .group_by(EventDelivery.topic)
        .order_by(EventDelivery.topic)
    )
    return list((await session.scalars(stmt)).all())


async def retry(session: AsyncSession, delivery_id: int) -> EventDelivery:
    """Give one dead delivery a fresh set of attempts, due now (the dispatcher delivers it
    on its next round once the caller commits). Flushes, never commits.

    Raises ``DeliveryNotFound`` (404) and ``DeliveryNotDead`` (409: retried already,
    delivered, or settled by its domain)."""
    result = await retry_many(session, [delivery_id])
    if result.not_found:
        raise DeliveryNotFound(f"No event delivery {delivery_id}", delivery_id=delivery_id)
    # Read after the bulk update, so not an identity-map copy from before it.
    row = await session.get(EventDelivery, delivery_id, populate_existing=True)
    assert row is not None
    if result.not_dead:
        raise DeliveryNotDead(
            f"Delivery {delivery_id} is {row.status}, not dead",
            delivery_id=delivery_id,
            delivery_status=row.status,
        )
    return row


async def retry_many(session: AsyncSession, delivery_ids: Sequence[int]) -> RetryResult:
    """Retry every dead delivery among ``delivery_ids``; says which were retried, which
    were not dead and which do not exist. Flushes, never commits.

    The rows are locked before they are read (on SQLite the write transaction already
    holds the database), so two operators pressing retry at once retry each delivery once:
    the second finds it pending."""
    wanted = list(dict.fromkeys(delivery_ids))
    if len(wanted) > MAX_BULK:
        raise ValidationFailed(f"At most {MAX_BULK} deliveries at a time", field="ids")
    result = RetryResult()
    if not wanted:
        return result
    possible = [id_ for id_ in wanted if 0 < id_ <= MAX_ID]
    stmt = (
        select(EventDelivery.id, EventDelivery.status)
        .where(EventDelivery.id.in_(possible))
        .order_by(EventDelivery.id)
        .with_for_update()
    )
    status = {id_: st for id_, st in (await session.execute(stmt)).all()}
    for id_ in wanted:
        if id_ not in status:
            result.not_found.append(id_)
        elif status[id_] == "dead":
            result.retried.append(id_)
        else:
            result.not_dead.append(id_)
    if result.retried:
        await outbox.retry_dead(session, result.retried)
    return result
