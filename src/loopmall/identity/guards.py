"""What each route needs, read off the app: the route-side half of the permission matrix.

Every route declares its guard through its dependencies, so the guard can be read from the
route itself (``guard_of``) and a route that declares none is caught by the test that walks
the app (``tests/identity/test_permission_matrix.py``):

- ``require(Perm.X)`` (``identity.deps``): a merchant's staff member whose role holds X;
- ``current_principal``: any logged-in staff member or operator (``Audience.STAFF``);
- ``require_operator``: a platform operator (``Audience.OPERATOR``);
- ``require_shopper`` / ``optional_shopper`` (``customers.deps``): the mall's shopper
  (``Audience.SHOPPER`` / ``Audience.MALL``);
- a route whose check is not a dependency says so with ``dependencies=[PUBLIC]``,
  ``[MALL]`` (it calls ``optional_shopper`` itself), ``[SIGNED]`` (a provider's callback or
  a sale token, verified by its signature in the handler) or ``[declared(...)]`` (a
  WebSocket that checks its session itself).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Depends
from fastapi.routing import iter_route_contexts
from starlette.routing import Match

from loopmall.identity.permissions import Audience, Guard, Perm

GUARD_ATTRIBUTE = "__loopmall_guard__"

# A route's own guard wins over the guards its dependency depends on (``require(Perm)``
# depends on ``current_principal``): the strictest first.
_RANK: dict[Audience, int] = {
    Audience.OPERATOR: 0,
    Audience.STAFF: 1,
    Audience.SHOPPER: 2,
    Audience.MALL: 3,
    Audience.SIGNED: 4,
    Audience.PUBLIC: 5,
}

# Framework routes that are not ours to declare: the API docs and the static mounts.
FRAMEWORK_PATHS = frozenset(
    {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/static", "/uploads"}
)

F = TypeVar("F", bound=Callable[..., Any])


def guards(guard: Guard) -> Callable[[F], F]:
    """Mark a FastAPI dependency as the guard ``guard``."""

    def mark(dependency: F) -> F:
        setattr(dependency, GUARD_ATTRIBUTE, guard)
        return dependency

    return mark


_DECLARED: dict[Guard, Any] = {}


def declared(guard: Guard) -> Any:
    """A dependency that checks nothing and declares ``guard``: for a route whose check is
    in its handler (a signed callback, a WebSocket) or that is open to anyone."""
    if guard not in _DECLARED:

        @guards(guard)
        async def declaration() -> None:
            return None

        declaration.__name__ = declaration.__qualname__ = f"declared_{guard.value}"
        _DECLARED[guard] = Depends(declaration)
    return _DECLARED[guard]


PUBLIC = declared(Audience.PUBLIC)
MALL = declared(Audience.MALL)  # a route that reads the shopper itself (optional_shopper)
SIGNED = declared(Audience.SIGNED)


class UndeclaredRoute(Exception):
    """A route with no guard, or with two permissions: the matrix can not place it."""


@dataclass(frozen=True)
class RouteGuard:
    methods: tuple[str, ...]  # empty for a WebSocket
    path: str
    guard: Guard
    route: Any = None

    @property
    def websocket(self) -> bool:
        return not self.methods


def _collect(dependant: Any, found: list[Guard]) -> None:
    for sub in dependant.dependencies:
        guard = getattr(sub.call, GUARD_ATTRIBUTE, None)
        if guard is not None:
            found.append(guard)
        _collect(sub, found)


def guard_of(route: Any) -> Guard | None:
    """The guard a route declares, or None when it declares none."""
    if route.path in FRAMEWORK_PATHS:
        return Audience.PUBLIC
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    found: list[Guard] = []
    _collect(dependant, found)
    perms = {g for g in found if isinstance(g, Perm)}
    if len(perms) > 1:
        raise UndeclaredRoute(f"{route.path} requires {sorted(perms)}: one permission a route")
    if perms:
        return perms.pop()
    audiences = [g for g in found if isinstance(g, Audience)]
    return min(audiences, key=_RANK.__getitem__) if audiences else None


def route_guards(app: Any) -> Iterator[RouteGuard]:
    """Every route of the app with its guard, in the app's order. Raises UndeclaredRoute
    for a route that declares none."""
    for route in iter_route_contexts(app.routes):
        guard = guard_of(route)
        if guard is None:
            raise UndeclaredRoute(f"{route.path} declares no guard (see identity.guards)")
        methods = tuple(sorted(m for m in (route.methods or ()) if m != "HEAD"))
        yield RouteGuard(methods, route.path or "", guard, route)


_PAGE_GUARDS: weakref.WeakKeyDictionary[Any, dict[str, Guard | None]] = weakref.WeakKeyDictionary()


def page_guard(app: Any, path: str, method: str = "GET") -> Guard | None:
    """The guard of the route a ``method`` request of ``path`` reaches (None: no route)."""
    known = _PAGE_GUARDS.setdefault(app, {})
    key = f"{method} {path}"
    if key not in known:
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        known[key] = None
        for route in iter_route_contexts(app.routes):
            match, _ = route.matches(scope)
            if match is Match.FULL:
                known[key] = guard_of(route)
                break
    return known[key]


def may_visit(app: Any, principal: Any, path: str) -> bool:
    """Whether ``principal`` (a staff member or operator, or None) passes the guard of the
    page at ``path``: what the console shows as a link."""
    guard = page_guard(app, path)
    if guard is None:
        return False
    if isinstance(guard, Perm):
        return principal is not None and principal.tenant is not None and principal.can(guard)
    if guard is Audience.OPERATOR:
        return principal is not None and principal.is_operator
    if guard is Audience.STAFF:
        return principal is not None
    return True
