"""What one running app holds: settings, the engine, session factories, Redis."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from loopmall.config import Settings
from loopmall.core.db import make_engine, make_sessionmakers


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    read_factory: async_sessionmaker[AsyncSession]
    write_factory: async_sessionmaker[AsyncSession]
    redis: Any | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings) -> AppState:
        engine = make_engine(settings.effective_database_url)
        read, write = make_sessionmakers(engine)
        redis = None
        if settings.redis_url:
            import redis.asyncio as aioredis

            redis = aioredis.from_url(settings.redis_url, decode_responses=True)
        return cls(settings, engine, read, write, redis)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
