"""Which settings a provider call made from an outbox handler uses: those of the app whose
session factory made the handler's session (``core.state.settings_of``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.config import Settings
from loopmall.core.state import settings_of


def settings_for(session: AsyncSession) -> Settings:
    return settings_of(session)
