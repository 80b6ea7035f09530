"""Periodic jobs of the core itself."""

from __future__ import annotations

from loopmall.core.idempotency import purge_expired
from loopmall.core.jobs import periodic
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork


@periodic("purge-idempotency-keys", lambda settings: 3600.0)
async def purge_idempotency_keys(state: AppState) -> int:
    async with UnitOfWork(state.write_factory) as uow:
        count = await purge_expired(uow)
        await uow.commit()
        return count
