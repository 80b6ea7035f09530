"""Migrations are reviewed code: they run down and up on both backends, and they build
exactly the tables the models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from loopmall.core import migrate
from loopmall.core.db import Base, make_engine
from loopmall.models import import_all_models


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names


async def test_models_match_migrations(db_url: str) -> None:
    import_all_models()
    engine = make_engine(db_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    await engine.dispose()
    assert diff == []


async def test_downgrade_to_base_and_back(db_url: str) -> None:
    migrate.downgrade(db_url, "base")
    try:
        assert await _tables(db_url) <= {"alembic_version"}
    finally:
        # Up again whatever happened: on PostgreSQL the database serves every later test of
        # this process, and a schema left at base failed hundreds of them, hiding this one.
        migrate.upgrade(db_url)
    import_all_models()
    assert set(Base.metadata.tables) <= await _tables(db_url)
