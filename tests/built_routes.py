"""One build of the app's routes per test process, shared by every app the tests create.

FastAPI builds the routes of an included router lazily, per app: the first request that
walks past a router builds all its operations for that app (dependency trees, pydantic
fields for the parameters and the responses) — 320 operations, 0.3 s of CPU when idle and
over 1 s on the loaded 2-core machine, paid again by every test, since every test creates
its own app. The build depends only on the router and how it is included (prefix, tags,
dependencies, …), never on the settings, so the tests' apps hand each included router to
the first app that included it the same way, and the build is done once per process.
Everything else stays the test's own: middleware, lifespan, state, mounts, its own routes.

It leans on FastAPI's private ``_IncludedRouter`` (0.16x); should that change, nothing is
shared and the tests are as slow as before, never wrong.
"""

from __future__ import annotations

import dataclasses
from typing import Any

try:
    from fastapi.routing import _IncludedRouter
except ImportError:  # another FastAPI: build per app, as FastAPI does
    _IncludedRouter = None

# (router, how it was included with the app left out, the included router that builds).
_BUILT: list[tuple[Any, Any, Any]] = []


def _inclusion(route: Any) -> Any:
    # The app names itself as the provider of ``dependency_overrides``: the shared build
    # answers to the first app's, which no test sets (none uses dependency_overrides).
    return dataclasses.replace(route.include_context, dependency_overrides_provider=None)


def _shared(route: Any) -> Any:
    inclusion = _inclusion(route)
    for router, seen, built in _BUILT:
        if router is route.original_router and seen == inclusion:
            return built
    _BUILT.append((route.original_router, inclusion, route))
    return route


def share_built_routes(app: Any) -> Any:
    """Give ``app`` this process's build of every router it includes; returns ``app``."""
    if _IncludedRouter is None:
        return app
    routes = app.router.routes
    for index, route in enumerate(routes):
        if isinstance(route, _IncludedRouter):
            routes[index] = _shared(route)
    return app
