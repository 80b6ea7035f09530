"""Periodic clean-up of consumer login leftovers: spent or expired SMS codes and OAuth
states (after a day) and sessions that expired or were revoked more than a week ago.
Registered by import (customers.pages imports this module)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_

from loopmall.core import clock
from loopmall.core.jobs import periodic
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import ConsumerSession, OAuthState, SmsCode

KEEP_CODES = timedelta(days=1)
KEEP_SESSIONS = timedelta(days=7)


async def purge(state: AppState) -> int:
    now = clock.now()
    removed = 0
    async with UnitOfWork(state.write_factory) as uow:
        for stmt in (
            delete(SmsCode).where(SmsCode.created_at < now - KEEP_CODES),
            delete(OAuthState).where(OAuthState.created_at < now - KEEP_CODES),
            delete(ConsumerSession).where(
                or_(
                    ConsumerSession.expires_at < now - KEEP_SESSIONS,
                    ConsumerSession.revoked_at < now - KEEP_SESSIONS,
                )
            ),
        ):
            result = await uow.session.execute(stmt)
            removed += int(getattr(result, "rowcount", 0) or 0)
        await uow.commit()
    return removed


periodic("consumer-purge", lambda settings: 3600.0)(purge)
