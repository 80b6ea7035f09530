"""``Idempotency-Key`` for creating POSTs.

Same key + same request → the first answer again (header ``Idempotent-Replayed: true``);
same key + a different request → 422 ``idempotency_key_reused``. The record is inserted in
the same transaction as the work it guards, so either both commit or neither does; two
concurrent requests with one key serialize on the unique index and the loser replays the
winner's answer. Keys are scoped to the caller (staff, operator or API client; a shopper;
an anonymous payer's device; a signing-up owner's phone): one caller's key never answers
another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from loopmall.core import clock
from loopmall.core.errors import IdempotencyKeyReused, ValidationFailed
from loopmall.core.models import IdempotencyRecord
from loopmall.core.uow import UnitOfWork

HEADER = "Idempotency-Key"
RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255
MAX_SCOPE_LENGTH = 80  # idempotency_records.scope


def stored_scope(scope: str) -> str:
    """The scope as stored: itself, or its digest when longer than the column (a mall's
    40-character slug and a device's visitor id make a scope of up to 92 characters)."""
    if len(scope) <= MAX_SCOPE_LENGTH:
        return scope
    return "sha256:" + hashlib.sha256(scope.encode()).hexdigest()


async def fingerprint(request: Request) -> str:
    """What makes two requests "the same": method, path, query and body.

    A multipart body is compared by its fields and file contents, not its bytes: every
    retry of an upload carries a new random boundary.
    """
    h = hashlib.sha256()
    h.update(request.method.encode())
    h.update(b"\0")
    h.update(request.url.path.encode())
    h.update(b"\0")
    h.update(request.url.query.encode())
    h.update(b"\0")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        for name, value in sorted(form.multi_items(), key=lambda item: item[0]):
            h.update(name.encode())
            h.update(b"=")
            if isinstance(value, str):
                h.update(value.encode())
            else:
                # The route may have read the upload already: hash it from the start.
                await value.seek(0)
                content = await value.read()
                await value.seek(0)
                h.update((value.filename or "").encode())
                h.update(hashlib.sha256(content).digest())
            h.update(b"\0")
    else:
        h.update(await request.body())
    return h.hexdigest()


def _replay(record: IdempotencyRecord) -> JSONResponse:
    return JSONResponse(
        record.response_body,
        status_code=record.status_code,
        headers={"Idempotent-Replayed": "true"},
    )


async def run_idempotent(
    request: Request,
    uow: UnitOfWork,
    scope: str,
    work: Callable[[], Awaitable[Any]],
    *,
    status_code: int = 201,
) -> JSONResponse:
    """Run ``work`` once per (scope, Idempotency-Key) and commit; replay otherwise.

    ``work`` returns something JSON-encodable (a Pydantic model is fine). Without the
    header the work simply runs and commits.
    """
    key = request.headers.get(HEADER)
    if key is None:
        result = jsonable_encoder(await work())
        await uow.commit()
        return JSONResponse(result, status_code=status_code)
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            f"{HEADER} must be 1–{MAX_KEY_LENGTH} printable characters", field=HEADER
        )
    digest = await fingerprint(request)
    session = uow.session
    scope = stored_scope(scope)

    existing = await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    if existing is not None:
        if existing.request_hash != digest:
            raise IdempotencyKeyReused()
        return _replay(existing)

    record = IdempotencyRecord(
        scope=scope, key=key, request_hash=digest, status_code=0, created_at=clock.now()
    )
    session.add(record)
    try:
        await session.flush()
    except IntegrityError:
        # Another request with this key committed first: answer as it did.
        await uow.rollback()
        winner = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )
        if winner is None or winner.request_hash != digest:
            raise IdempotencyKeyReused() from None
        return _replay(winner)

    result = jsonable_encoder(await work())
    record.status_code = status_code
    record.response_body = result
    await uow.commit()
    return JSONResponse(result, status_code=status_code)


async def purge_expired(uow: UnitOfWork) -> int:
    """Forget keys older than the retention period."""
    result = await uow.session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < clock.now() - RETENTION)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
