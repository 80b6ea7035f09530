"""Which settings an outbox handler uses for its outside calls (the WeChat and SMS base URLs,
the public base URL for links): those of the app whose session factory made the handler's
session (``core.state.settings_of``); a worker process has its own from the environment."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.config import Settings
from loopmall.core.state import settings_of


def settings_for(session: AsyncSession) -> Settings:
    return settings_of(session)
