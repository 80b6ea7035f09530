"""Request and response shapes of the operators' API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from loopmall.operations.dead_letters import MAX_BULK, MAX_ID


class DeadLetterOut(BaseModel):
    id: int = Field(description="The delivery's id (retry it with this)")
    event_id: int
    topic: str
    version: int
    subscriber: str
    merchant: str | None = Field(description="The merchant's code, or null")
    aggregate: str | None
    attempts: int
    occurred_at: datetime = Field(description="When the event was published")
    failing_since: datetime = Field(description="When this delivery first failed")
    error: str = Field(description="The line of the last error that says what went wrong")
    last_error: str | None = Field(description="The last error in full, with its traceback")
    data: dict[str, Any] = Field(description="The event's payload")


class RetryOut(BaseModel):
    id: int
    status: str = Field(description="pending: due now, the dispatcher delivers it next round")
    attempts: int
    available_at: datetime


class BulkRetryIn(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=MAX_BULK)


class BulkRetryOut(BaseModel):
    retried: list[int]
    not_dead: list[int] = Field(description="Retried already, delivered, or settled")
    not_found: list[int]
