"""Request-scoped dependencies shared by every router: the app state and units of work."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.loopmall
    return state


async def read_uow(request: Request) -> AsyncIterator[UnitOfWork]:
    """A read-only unit of work (deferred BEGIN on SQLite); never committed."""
    async with UnitOfWork(get_state(request).read_factory) as uow:
        yield uow


async def write_uow(request: Request) -> AsyncIterator[UnitOfWork]:
    """A write unit of work; the route commits it (``await uow.commit()``) when done."""
    async with UnitOfWork(get_state(request).write_factory) as uow:
        yield uow


def client_ip(request: Request) -> str:
    """The peer's address. ``X-Forwarded-For`` is not read here — anyone can send it, and
    login throttling counts per address. Behind a reverse proxy the server rewrites the peer
    from the proxy's header only for the proxies it is told to trust (uvicorn:
    ``--forwarded-allow-ips`` / ``FORWARDED_ALLOW_IPS``, by default only 127.0.0.1)."""
    return request.client.host if request.client else "unknown"
