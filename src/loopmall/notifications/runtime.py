"""Which settings an outbox handler uses for its outside calls.

Outbox handlers receive only ``(session, event)``, yet sending needs the app's settings
(the WeChat and SMS base URLs, the public base URL for links). The app's routes and the
``notifications-runtime`` job remember their settings under the database URL; a handler
finds them through its session's bind. A process that has served nothing yet falls back
to ``get_settings()`` (the environment), which is what a worker process uses.
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
