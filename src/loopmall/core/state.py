"""What one running app holds: settings, the engine, session factories, Redis."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from loopmall.config import Settings
from loopmall.core.db import make_engine, make_sessionmakers, make_sqlite_writer
from loopmall.core.readcache import SESSION_KEY as READCACHE_KEY
from loopmall.core.readcache import ReadCache

SETTINGS_KEY = "loopmall.settings"


def settings_of(session: AsyncSession) -> Settings:
    """The settings of the app whose session factory made ``session`` (the process's
    settings for a session made elsewhere)."""
    found = session.info.get(SETTINGS_KEY)
    if isinstance(found, Settings):
        return found
    from loopmall.config import get_settings

    return get_settings()


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    read_factory: async_sessionmaker[AsyncSession]
    write_factory: async_sessionmaker[AsyncSession]
    redis: Any | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    # SQLite: the one-connection engine all writes queue on (``make_sqlite_writer``).
    writer: AsyncEngine | None = None
    # The storefront's read cache (core.readcache); every session carries it too, so a
    # commit that published events bumps this app's generations.
    readcache: ReadCache = field(default_factory=ReadCache)

    @classmethod
    def build(cls, settings: Settings) -> AppState:
        url = settings.effective_database_url
        engine = make_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
        )
        writer = (
            make_sqlite_writer(url, pool_timeout=settings.db_pool_timeout_seconds)
            if url.startswith("sqlite")
            else None
        )
        read, write = make_sessionmakers(engine, writer)
        redis = None
        if settings.redis_url:
            import redis.asyncio as aioredis

            redis = aioredis.from_url(settings.redis_url, decode_responses=True)
        readcache = ReadCache.from_settings(settings, redis)
        readcache.read_factory = read
        # Every session knows its app's settings (``settings_of``): an outbox handler gets only
        # a session, yet a call to WeChat or Alipay needs the gateway URLs and timeouts.
        info = {SETTINGS_KEY: settings, READCACHE_KEY: readcache}
        read.configure(info=info)
        write.configure(info=info)
        return cls(settings, engine, read, write, redis, writer=writer, readcache=readcache)

    @property
    def engines(self) -> list[AsyncEngine]:
        """Every engine this app talks through (reads, and SQLite's writer)."""
        return [self.engine] + ([self.writer] if self.writer is not None else [])

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        if self.writer is not None:
            await self.writer.dispose()
        await self.engine.dispose()
