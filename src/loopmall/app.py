"""create_app(): settings → engine → routers, pages, middleware, lifespan."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from loopmall import __version__
from loopmall.config import Settings, get_settings
from loopmall.core import jobs, migrate
from loopmall.core.db import database_unavailable
from loopmall.core.errors import LoopmallError, Unauthorized
from loopmall.core.httpcache import AnonymousPageETags, Compression
from loopmall.core.outbox import Dispatcher
from loopmall.core.production import check as check_production
from loopmall.core.state import AppState
from loopmall.core.text import INVALID_TEXT
from loopmall.core.text_guard import RefuseInvalidText
from loopmall.customers.mall_page import LoginRequired, login_redirect
from loopmall.identity.guards import PUBLIC, may_visit
from loopmall.web import templating
from loopmall.web.assets import STATIC_DIR, CachedFiles, fingerprinted, written_once
from loopmall.web.edge import BodyLimit, SecurityHeaders
from loopmall.web.i18n import asks_for_chinese

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"

# Each module defines `router`; API routers mount under /api/v1, page routers at the root.
API_MODULES = (
    "loopmall.identity.api",
    "loopmall.staff.api",
    "loopmall.merchants.api",
    "loopmall.catalog.api",
    "loopmall.inventory.api",
    "loopmall.imports.api",
    "loopmall.customers.api",
    "loopmall.orders.api",
    "loopmall.payments.api",
    "loopmall.notifications.api",
    "loopmall.o2o.api",
    "loopmall.social.api",
    "loopmall.attribution.api",
    "loopmall.rebates.api",
    "loopmall.guides.api",
    "loopmall.flashsale.api",
    "loopmall.storefront.stores_api",
    "loopmall.storefront.api_mall",
    "loopmall.operations.api",
)
PAGE_MODULES = (
    "loopmall.identity.pages",
    "loopmall.staff.pages",
    "loopmall.merchants.pages",
    "loopmall.catalog.pages",
    "loopmall.inventory.pages",
    "loopmall.imports.pages",
    "loopmall.customers.pages",
    "loopmall.storefront.pages",
    "loopmall.storefront.stores",
    # Before orders: its /console/orders/{order}/refunds must win over orders' action route.
    "loopmall.payments.pages",
    "loopmall.orders.pages",
    "loopmall.notifications.pages",
    "loopmall.o2o.pages",
    "loopmall.social.pages",
    "loopmall.attribution.pages",
    "loopmall.rebates.pages",
    "loopmall.guides.pages",
    "loopmall.flashsale.pages",
    "loopmall.operations.pages",
)
# Modules that register event subscribers and periodic jobs when imported (each domain's
# ``handlers``/``jobs``; the event types they subscribe come with them).
HANDLER_MODULES = (
    "loopmall.core.jobs_core",
    "loopmall.inventory.jobs",
    "loopmall.orders.jobs",
    "loopmall.payments.handlers",
    "loopmall.notifications.handlers",
    "loopmall.attribution.handlers",
    "loopmall.rebates.handlers",
    "loopmall.guides.jobs",
    "loopmall.flashsale.jobs",
    "loopmall.storefront.handlers",
)


def _problem(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    body = {
        "type": f"https://loopmall.dev/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    body.update(extra)
    return body


# Where a page that needs someone signed in sends a browser that is not: the merchant
# console's login, or the platform operators' (operations.pages).
LOGIN_PAGES = (("/console", "/console/login"), ("/platform", "/platform/login"))


def _login_page_for(path: str) -> str | None:
    return next((login for prefix, login in LOGIN_PAGES if path.startswith(prefix)), None)


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _error_response(request: Request, status: int, body: dict[str, Any]) -> Response:
    headers: dict[str, str] = {}
    if "retry_after" in body:
        headers["Retry-After"] = str(body["retry_after"])
    if _wants_html(request):
        login = _login_page_for(request.url.path)
        if status == 401 and login:
            return RedirectResponse(f"{login}?next={quote(str(request.url.path))}", status_code=303)
        from loopmall.web.templating import render

        return render(request, "web/error.html", body, status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoopmallError)
    async def domain_error(request: Request, exc: LoopmallError) -> Response:
        body = exc.to_problem(instance=request.url.path)
        if asks_for_chinese(request):  # the pages' forms show the detail as it comes
            body["detail"] = exc.localized(templating.translator("zh_Hans"))
        response = _error_response(request, exc.status, body)
        if isinstance(exc, Unauthorized) and response.status_code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    # A mall page for customers asked for by someone not signed in: the login page, and back.
    app.add_exception_handler(LoginRequired, login_redirect)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}" if errors else "Invalid request"
        refused = next((e for e in errors if e["type"] == INVALID_TEXT), None)
        if refused is not None:  # core.text's rule: its own code, naming the field
            loc = refused["loc"]
            where = loc[1:] if loc[:1] in (["body"], ["query"], ["path"]) else loc
            field = ".".join(str(p) for p in where)
            body = _problem(
                422,
                INVALID_TEXT,
                "The text contains characters that are not allowed",
                f"{field}: {refused['msg']}",
                field=field,
                errors=errors,
            )
            return _error_response(request, 422, body)
        body = _problem(422, "validation_failed", "The request is not valid", detail, errors=errors)
        return _error_response(request, 422, body)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {
            404: "not_found",
            405: "method_not_allowed",
            400: "bad_request",
            413: "payload_too_large",
        }
        code = codes.get(exc.status_code, f"http_{exc.status_code}")
        body = _problem(exc.status_code, code, str(exc.detail), str(exc.detail))
        response = _error_response(request, exc.status_code, body)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(sqlalchemy.exc.TimeoutError)
    @app.exception_handler(sqlalchemy.exc.DBAPIError)
    @app.exception_handler(ConnectionError)
    async def busy(request: Request, exc: Exception) -> Response:
        # No database connection came free within the pool timeout, or the database refused
        # one ("too many clients already"): say so, and when to come back, rather than a 500
        # (the soak met bare 500s after 30 s; the flash sale's token burst, issue #21).
        if not database_unavailable(exc):
            return await unexpected(request, exc)
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        body = _problem(
            503,
            "server_busy",
            "Server busy",
            "The server is busy; please try again in a moment.",
            retry_after=1,
        )
        if _wants_html(request):  # a shopper's page: a friendly "busy, try again" page
            from loopmall.web.templating import render

            headers = {"Retry-After": "1"}
            return render(request, "web/busy.html", body, status_code=503, headers=headers)
        return _error_response(request, 503, body)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = _problem(
            500,
            "internal_error",
            "Internal error",
            "Something went wrong on our side; it has been logged.",
        )
        return _error_response(request, 500, body)


def _load(modules: tuple[str, ...]) -> list[Any]:
    return [importlib.import_module(name) for name in modules]


def create_server_app(settings: Settings | None = None) -> Any:
    """What ``loopmall serve`` serves: the app with the flash-sale gate and the hello route
    answered in front of FastAPI (``flashsale.lean.LeanGate.outermost``)."""
    lean = importlib.import_module("loopmall.flashsale.lean")
    return lean.LeanGate.outermost(create_app(settings))


def create_app(settings: Settings | None = None, *, background: bool | None = None) -> FastAPI:  # noqa: C901, PLR0915 (the composition root: one router, middleware or hook after another, read top-down)
    settings = settings or get_settings()
    check_production(settings)  # LOOPMALL_ENV=prod: refuse to start unsafe, naming why
    run_background = settings.run_background if background is None else background

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        if settings.auto_migrate:
            await asyncio.to_thread(migrate.upgrade, settings.effective_database_url)
        state = AppState.build(settings)
        app.state.loopmall = state
        tasks: list[asyncio.Task[None]] = []
        dispatcher = Dispatcher(
            state.write_factory,
            poll_seconds=settings.outbox_poll_seconds,
            use_skip_locked=not state.is_sqlite,
        )
        state.extras["dispatcher"] = dispatcher
        if run_background:
            # With a broker the workers relay and consume (docs/adr/0009-event-broker.md):
            # the web process only writes the outbox.
            if not settings.event_broker_url:
                dispatcher.start()
            tasks = jobs.start_all(state)
        try:
            yield
        finally:
            # Let imports that are still writing finish before their connections go away.
            from loopmall.imports.jobs import EXTRAS_KEY

            if EXTRAS_KEY in state.extras:
                await state.extras[EXTRAS_KEY].join()
            from loopmall.guides.hub import EXTRAS_KEY as CHAT_HUB

            if CHAT_HUB in state.extras:
                await state.extras[CHAT_HUB].stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await dispatcher.stop()
            await state.close()

    app = FastAPI(
        title="Loopmall",
        version=__version__,
        description="Multi-tenant social commerce + O2O platform. Errors are "
        "application/problem+json with a stable `code`.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(RefuseInvalidText, respond=_error_response)
    # ETags for anonymous mall pages, then gzip around them (core.httpcache); both inside
    # the flash-sale gate, whose attempts neither sees.
    app.add_middleware(AnonymousPageETags, shopper_cookie_prefix=f"{settings.consumer_cookie}_")
    app.add_middleware(Compression)
    app.add_middleware(importlib.import_module("loopmall.flashsale.lean").LeanGate)
    # Outermost: a body over the limit is refused before anything reads it, and every
    # answer (the refusal too) carries the security headers (web.edge).
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(SecurityHeaders)
    # The page shell shows the console links a principal may visit (web.templating).
    templating.use_page_guard(may_visit)
    _load(HANDLER_MODULES)
    for module in _load(API_MODULES):
        app.include_router(module.router, prefix="/api/v1")
    for module in _load(PAGE_MODULES):
        app.include_router(module.router, include_in_schema=False)

    # Kept for a year where the URL changes with the content (web.assets).
    app.mount("/static", CachedFiles(directory=STATIC_DIR, lifetime=fingerprinted), name="static")
    uploads = settings.upload_dir
    uploads.mkdir(parents=True, exist_ok=True)
    app.mount("/uploads", CachedFiles(directory=uploads, lifetime=written_once), name="uploads")

    @app.get("/healthz", tags=["health"], dependencies=[PUBLIC])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        responses={503: {"description": "Not ready"}},
        dependencies=[PUBLIC],
    )
    async def readyz(request: Request) -> Response:
        """Readiness: the database (and Redis, when configured) answer."""
        state: AppState = request.app.state.loopmall
        checks: dict[str, str] = {}
        try:
            async with state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        if state.redis is not None:
            try:
                await state.redis.ping()
                checks["redis"] = "ok"
            except Exception as exc:
                checks["redis"] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/", include_in_schema=False, dependencies=[PUBLIC])
    async def root() -> RedirectResponse:
        return RedirectResponse("/console", status_code=307)

    return app
