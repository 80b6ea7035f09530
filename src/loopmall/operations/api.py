"""JSON routes of the operators' console: dead event deliveries, listed and retried.

A retry answers 404 ``delivery_not_found`` for an unknown id and 409 ``delivery_not_dead``
for one that is not dead (retried already, delivered, settled); sent again with the same
``Idempotency-Key`` it replays its first answer instead.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request

from loopmall.core.http import read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import Page
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require_operator
from loopmall.identity.principal import Principal
from loopmall.operations import dead_letters
from loopmall.operations.schemas import BulkRetryIn, BulkRetryOut, DeadLetterOut, RetryOut

router = APIRouter(tags=["platform"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Not a platform operator"},
    422: {"description": "Bad input"},
}
DELIVERY_ID = Path(..., ge=1, lt=2**63, description="The delivery's id")


def dead_letter_out(letter: dead_letters.DeadLetter) -> DeadLetterOut:
    d, e = letter.delivery, letter.event
    return DeadLetterOut(
        id=d.id,
        event_id=d.event_id,
        topic=d.topic,
        version=e.version,
        subscriber=d.subscriber,
        merchant=letter.merchant_slug,
        aggregate=d.aggregate,
        attempts=d.attempts,
        occurred_at=e.created_at,
        failing_since=d.created_at,
        error=letter.error_summary,
        last_error=letter.error or None,
        data=dict(e.payload),
    )


@router.get("/platform/events/dead", response_model=Page[DeadLetterOut], responses=ERRORS)
async def list_dead_deliveries(
    subscriber: str | None = Query(None, max_length=120, description="A subscriber's name"),
    topic: str | None = Query(None, max_length=100, description="An event's topic"),
    merchant: str | None = Query(None, max_length=40, description="A merchant's code"),
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
    _operator: Principal = Depends(require_operator),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[DeadLetterOut]:
    """Dead event deliveries, newest first, with the last error and its traceback."""
    filters = dead_letters.DeadFilter(subscriber=subscriber, topic=topic, merchant=merchant)
    rows, next_cursor = await dead_letters.list_dead(
        uow.session, filters, cursor=cursor, limit=limit
    )
    return Page[DeadLetterOut](items=[dead_letter_out(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/platform/events/dead/retry",
    response_model=BulkRetryOut,
    responses=ERRORS,
)
async def retry_dead_deliveries(
    body: BulkRetryIn,
    request: Request,
    operator: Principal = Depends(require_operator),
    uow: UnitOfWork = Depends(write_uow),
) -> Any:
    """Retry several dead deliveries at once; says which were retried, which were not dead
    and which do not exist (those are not an error: the rest are retried)."""

    async def work() -> BulkRetryOut:
        result = await dead_letters.retry_many(uow.session, body.ids)
        return BulkRetryOut(
            retried=result.retried, not_dead=result.not_dead, not_found=result.not_found
        )

    return await run_idempotent(request, uow, operator.scope, work, status_code=200)


@router.post(
    "/platform/events/dead/{delivery_id}/retry",
    response_model=RetryOut,
    responses=ERRORS
    | {404: {"description": "delivery_not_found"}, 409: {"description": "delivery_not_dead"}},
)
async def retry_dead_delivery(
    request: Request,
    delivery_id: int = DELIVERY_ID,
    operator: Principal = Depends(require_operator),
    uow: UnitOfWork = Depends(write_uow),
) -> Any:
    """Give a dead delivery a fresh set of attempts: the dispatcher delivers it on its next
    round."""

    async def work() -> RetryOut:
        row = await dead_letters.retry(uow.session, delivery_id)
        return RetryOut(
            id=row.id, status=row.status, attempts=row.attempts, available_at=row.available_at
        )

    return await run_idempotent(request, uow, operator.scope, work, status_code=200)
