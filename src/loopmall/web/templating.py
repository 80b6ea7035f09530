"""The shared page shell: one Jinja2 environment, per-request language and CSRF token.

Templates live beside each domain's ``pages.py`` in ``<domain>/templates/`` and are named
``"<domain>/<file>.html"``; the shared layouts are ``"web/base.html"`` (consumer, mobile)
and ``"web/console.html"`` (merchant console). In templates, write ``{{ _("English text") }}``
(with ``%(name)s`` placeholders as keyword arguments); translations come from Babel catalogs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, PrefixLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from loopmall.core.clock import local
from loopmall.core.money import format_yuan
from loopmall.web.assets import asset_url
from loopmall.web.i18n import LOCALES, pick_locale, translations

PACKAGE = Path(__file__).resolve().parent.parent
DOMAINS_WITH_PAGES = (
    "web",
    "identity",
    "staff",
    "customers",
    "merchants",
    "catalog",
    "inventory",
    "imports",
    "storefront",
    "orders",
    "payments",
    "notifications",
    "o2o",
    "social",
    "attribution",
    "rebates",
    "guides",
    "flashsale",
    "operations",
)


def _loader() -> PrefixLoader:
    # "web/base.html" → web/templates/base.html;
    # "catalog/product.html" → catalog/templates/catalog/product.html.
    mapping = {}
    for domain in DOMAINS_WITH_PAGES:
        folder = PACKAGE / domain / "templates"
        mapping[domain] = FileSystemLoader(str(folder if domain == "web" else folder / domain))
    return PrefixLoader(mapping)


env = Environment(loader=_loader(), autoescape=select_autoescape(["html"]), auto_reload=True)
env.filters["yuan"] = format_yuan
env.filters["localtime"] = lambda dt, fmt="%Y-%m-%d %H:%M": local(dt).strftime(fmt) if dt else ""
# {{ asset("app.css") }}: the fingerprinted URL of a static file (web.assets).
env.globals["asset"] = asset_url


def translator(locale: str) -> Any:
    t = translations(locale)

    def _(message: str, **kwargs: Any) -> str:
        text = t.gettext(message)
        return text % kwargs if kwargs else text

    return _


# Whether a principal passes the guard of the page at a path, given the app: the guards are
# the sign-in machinery's (identity.guards.may_visit), which itself renders pages with this
# module, so the app hands the check over at start (app.create_app) instead of this module
# importing it.
PageGuard = Callable[[Any, Any, str], bool]
_page_guard: PageGuard | None = None


def use_page_guard(check: PageGuard) -> None:
    global _page_guard
    _page_guard = check


def _may_visit(request: Request, principal: Any) -> Any:
    """``may_visit(path)`` for templates: whether the caller passes that page's guard."""
    app = request.scope.get("app")
    check = _page_guard
    return lambda path: app is None or check is None or check(app, principal, path)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``name`` for this request (language, principal, CSRF token in the context)."""
    locale = pick_locale(request)
    principal = getattr(request.state, "principal", None)
    # Mall pages: the logged-in shopper (customers.deps) carries its own CSRF token.
    shopper = getattr(request.state, "shopper", None)
    csrf_source = principal if principal is not None else shopper
    ctx: dict[str, Any] = {
        "request": request,
        "locale": locale,
        "html_lang": "zh-CN" if locale == "zh_Hans" else "en",
        "locales": LOCALES,
        "_": translator(locale),
        "principal": principal,
        "shopper": shopper,
        "csrf_token": csrf_source.csrf_token if csrf_source is not None else "",
        "path": request.url.path,
        "may_visit": _may_visit(request, principal),
    }
    ctx.update(context or {})
    html = env.get_template(name).render(ctx)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    if "lang" in request.query_params and request.query_params["lang"] in LOCALES:
        response.set_cookie(
            "lm_lang", request.query_params["lang"], max_age=365 * 86400, samesite="lax"
        )
    return response
