"""An overloaded process answers 503 server_busy with Retry-After, never a 500.

When every database connection of the pool is taken and none comes free within the pool
timeout, SQLAlchemy raises ``TimeoutError``; the soak (bench/soak) met it at 9 journeys/s on
two cores as a bare 500 after 30 s."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx

from loopmall.app import create_app
from loopmall.config import Settings

ASK_FOR_CODE = "/api/v1/mall/nosuch/auth/sms/code"  # public; reads the mall first


async def test_a_request_that_waits_past_the_pool_timeout_is_told_to_come_back(
    db_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        env="test",
        database_url=db_url,
        data_dir=tmp_path / "data",
        auto_migrate=False,
        run_background=False,
        secret_key="test-secret",
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout_seconds=0.2,
    )
    app: Any = create_app(settings)
    async with app.router.lifespan_context(app):
        state = app.state.loopmall
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            # Given the one connection of each pool (reads; SQLite's writer) held elsewhere
            async with AsyncExitStack() as held:
                for engine in state.engines:
                    await held.enter_async_context(engine.connect())
                # When a request needs the database
                busy = await client.post(ASK_FOR_CODE, json={"phone": "13800000000"})
            # Then it is told the server is busy and when to come back
            assert busy.status_code == 503
            assert busy.headers["content-type"].startswith("application/problem+json")
            assert busy.headers["retry-after"] == "1"
            assert busy.json()["code"] == "server_busy"
            # And once the connection is free the same request gets its ordinary answer
            after = await client.post(ASK_FOR_CODE, json={"phone": "13800000000"})
            assert after.status_code == 404
