"""PostgreSQL connections plan every statement for its own values (``plan_cache_mode``):
a prepared statement's generic plan, costed while a table was empty, kept scanning the
table whole once it had grown (the flash-sale consumer, 0.2-0.4 s per primary-key lookup)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from loopmall.core.state import AppState


async def test_postgres_connections_use_custom_plans(state: AppState, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("a PostgreSQL setting")
    for factory in (state.read_factory, state.write_factory):
        async with factory() as session:
            mode = await session.scalar(text("SHOW plan_cache_mode"))
            assert mode == "force_custom_plan"
