"""Which settings an outbox handler's provider calls use.

Outbox handlers receive only ``(session, event)``, yet a provider call needs the app's
settings (the gateway base URLs, timeouts, the callback window). Every payments route and
job remembers its app's settings under the database URL, and a handler finds them through
its session's bind. A process that has served nothing yet falls back to ``get_settings()``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.config import Settings, get_settings
from loopmall.core.state import AppState

_by_database: dict[str, Settings] = {}


def _key(url: object) -> str:
    return str(url).split("?", 1)[0]


def remember(state: AppState) -> None:
    _by_database[_key(state.engine.url)] = state.settings


def settings_for(session: AsyncSession) -> Settings:
    bind = session.get_bind()
    return _by_database.get(_key(bind.engine.url)) or get_settings()
