"""What every mall page (``/m/{slug}/...``) does before its own work, as one dependency.

A mall page needs the merchant behind the slug (an unknown or suspended mall is the 404
page), the customer signed in to *this* mall (a session of another mall does not count),
and, when the page is only for customers, a redirect to the mall's login that comes back
to the page. Then it renders a template in the mall's shell, or renders its form again
with the reason the form was refused.

    @router.get("/m/{slug}/inbox")
    async def inbox_page(page: CustomerPage = Depends(mall_customer)) -> Response:
        ...
        return page.render("notifications/inbox.html", {"messages": rows}, tab="me")

    @router.post("/m/{slug}/inbox/read-all")
    async def read_all(page: CustomerPage = Depends(customer_back_to("/m/{slug}/inbox"))): ...

``mall_visitor`` gives a :class:`MallPage` whose ``customer`` may be None;
``mall_customer`` and ``customer_back_to`` raise :class:`LoginRequired`, which the app's
handler (:func:`login_redirect`) answers with a 303 to ``/m/{slug}/login?next=...``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, TypeVar

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from loopmall.core.http import get_state
from loopmall.core.redirects import safe_path
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.deps import Shopper, login_url, optional_shopper
from loopmall.identity.guards import guards
from loopmall.identity.permissions import Audience
from loopmall.merchants.shell import MallLook, open_mall
from loopmall.web.templating import render

C = TypeVar("C", bound=Shopper | None)


class LoginRequired(Exception):
    """A page for customers was asked for by someone not signed in to this mall.

    Not a ``LoopmallError``: it is not a refusal to show as a problem, it is a detour
    through the login page (the same 303 for a browser and for any other client)."""

    def __init__(self, slug: str, next_path: str) -> None:
        super().__init__(f"log in to /m/{slug}/ first")
        self.slug = slug
        self.next_path = next_path


def login_redirect(_request: Request, exc: Exception) -> RedirectResponse:
    """The app's handler of :class:`LoginRequired`: 303 to the mall's login, with ``next``
    back to a path inside the same mall only (anything else comes back to the mall's home)."""
    assert isinstance(exc, LoginRequired)
    mall = f"/m/{exc.slug}/"
    target = safe_path(exc.next_path, mall, within=mall)
    return RedirectResponse(login_url(exc.slug, next_path=target), status_code=303)


def _this_page(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


@dataclass(frozen=True)
class MallPage(Generic[C]):
    """One request to a mall page: the mall, its look, the customer (or None)."""

    request: Request
    slug: str  # as the path spelled it: the links and redirects the page builds use it
    tenant: Tenant
    mall: MallLook
    customer: C

    def render(
        self,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        tab: str | None = None,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """``name`` in the mall's shell: ``mall`` (and ``tab``, the bottom bar's highlighted
        tab) in the context, with what ``web.templating.render`` adds for every page."""
        shell: dict[str, Any] = {"mall": self.mall}
        if tab is not None:
            shell["tab"] = tab
        return render(
            self.request,
            name,
            shell | dict(context or {}),
            status_code=status_code,
            headers=headers,
        )

    def render_refused(
        self,
        name: str,
        context: Mapping[str, Any],
        *,
        errors: Mapping[str, str],
        status_code: int,
        tab: str | None = None,
    ) -> HTMLResponse:
        """The form's page again after the form was refused: its ``context`` (what was typed
        in), the reasons under the keys its template reads, and the refusal's status."""
        if status_code < 400:
            raise ValueError(f"a refused form answers 4xx or 5xx, not {status_code}")
        return self.render(name, dict(context) | dict(errors), tab=tab, status_code=status_code)

    def login_href(self, next_path: str | None = None) -> str:
        """A link to the mall's login that comes back to ``next_path`` (this page by
        default)."""
        return login_url(self.slug, self.request, next_path)

    def login_required(self, next_path: str | None = None) -> NoReturn:
        """Send the visitor to the mall's login; they come back to ``next_path`` (this page
        by default)."""
        raise LoginRequired(self.slug, next_path or _this_page(self.request))


VisitorPage = MallPage[Shopper | None]
CustomerPage = MallPage[Shopper]


@guards(Audience.MALL)
async def mall_visitor(request: Request, slug: str) -> VisitorPage:
    """The mall (``NotFound``, the 404 page, for an unknown or suspended one) and whoever
    is signed in to it, or None."""
    async with UnitOfWork(get_state(request).read_factory) as uow:
        tenant, look = await open_mall(uow.session, slug)
    customer = await optional_shopper(request, slug)
    return MallPage(request, slug, tenant, look, customer)


def _signed_in(page: VisitorPage, next_path: str) -> CustomerPage:
    if page.customer is None:
        raise LoginRequired(page.slug, next_path)
    return MallPage(page.request, page.slug, page.tenant, page.mall, page.customer)


async def mall_customer(page: VisitorPage = Depends(mall_visitor)) -> CustomerPage:
    """As ``mall_visitor``, for a page only a signed-in customer sees: anyone else is sent
    to the login (``LoginRequired``) and comes back to this page."""
    return _signed_in(page, _this_page(page.request))


_BACK_TO: dict[str, Callable[..., Awaitable[CustomerPage]]] = {}


def customer_back_to(path: str) -> Callable[..., Awaitable[CustomerPage]]:
    """``mall_customer`` for a form's POST: a login cannot replay the POST, so the visitor
    comes back to ``path`` (a template of the route's path parameters, such as
    ``"/m/{slug}/orders/{order_id}"``)."""
    if path not in _BACK_TO:

        async def signed_in(page: VisitorPage = Depends(mall_visitor)) -> CustomerPage:
            return _signed_in(page, path.format_map(page.request.path_params))

        signed_in.__name__ = signed_in.__qualname__ = "customer_back_to"
        _BACK_TO[path] = signed_in
    return _BACK_TO[path]
