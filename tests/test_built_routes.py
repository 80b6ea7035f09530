"""The tests' apps share one build of their routes (tests/built_routes.py), and say so when
a FastAPI upgrade stops it: the suite would quietly take twice as long."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi.routing import APIRoute

from loopmall.app import create_app
from loopmall.config import Settings
from tests.built_routes import share_built_routes


def _included(app: Any) -> list[Any]:
    return [route for route in app.router.routes if hasattr(route, "original_router")]


async def test_two_apps_share_the_routers_build_and_each_answers(
    app: Any, client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    other = share_built_routes(
        create_app(settings.model_copy(update={"data_dir": tmp_path / "other"}))
    )
    ours, theirs = _included(app), _included(other)
    assert len(ours) > 30
    assert all(a is b for a, b in zip(ours, theirs, strict=True))
    # The app's own routes stay its own.
    own = [r for r in app.router.routes if isinstance(r, APIRoute)]
    assert own and not any(r in other.router.routes for r in own)
    assert (await client.get("/api/v1/me")).status_code == 401
    # The shared routes read the state of the app that serves the request.
    transport = httpx.ASGITransport(app=other)
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as c,
    ):
        assert other.state.loopmall is not app.state.loopmall
        assert (await c.get("/api/v1/me")).status_code == 401
