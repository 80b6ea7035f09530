"""The permission matrix as data, checked against every route (#11).

Every route of the app declares its guard (``identity.guards``); one that does not fails
here, so a new route must say who may call it. Then each staff role calls every staff route
(path ids are dummies: a guard answers before the route looks anything up) and is refused —
403 ``forbidden`` naming the permission — exactly when ``ROLE_PERMISSIONS`` says it lacks
the route's permission, never when it holds it; with no login, every staff and shopper
route answers 401; and no call, however wrong its ids and body, answers 5xx.
``docs/PERMISSIONS.md`` is checked current.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Match

from loopmall.app import create_app
from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.identity import permissions_doc
from loopmall.identity.guards import (
    PUBLIC,
    RouteGuard,
    UndeclaredRoute,
    guard_of,
    route_guards,
)
from loopmall.identity.permissions import (
    ROLE_PERMISSIONS,
    STORE_SCOPED_ROLES,
    Audience,
    Perm,
    Role,
    role_may,
)
from tests.factories import make_merchant, make_staff, token_for
from tests.inventory.fixtures import make_store

STAFF_ONLY = (Audience.STAFF, Audience.OPERATOR)
# Samples for path parameters whose converter is narrower than one path segment.
CONVERTER_SAMPLES = {"staff_id": "stf_0000000000000000", "store_id": "st_0000000000000000"}
PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_]+))?}")


def _app(tmp_path: Path) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path / "data", auto_migrate=False, secret_key="t"))


def _sample_path(path: str) -> str:
    def sample(m: re.Match[str]) -> str:
        name, converter = m[1], m[2]
        if converter in CONVERTER_SAMPLES:
            return CONVERTER_SAMPLES[converter]
        return {"fmt": "png", "kind": "png", "provider": "sandbox"}.get(name, "zz0000000000000000")

    return PARAM.sub(sample, path)


def _first_route(app: FastAPI, method: str, path: str) -> Any:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    for route in iter_route_contexts(app.routes):
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


def _staff_calls(app: FastAPI) -> list[tuple[str, str, RouteGuard]]:
    """(method, sample path, route) for every staff route; the ones that end a session last."""
    calls = []
    for found in route_guards(app):
        if found.websocket or not (isinstance(found.guard, Perm) or found.guard in STAFF_ONLY):
            continue
        for method in found.methods:
            path = _sample_path(found.path)
            reached = _first_route(app, method, path)
            assert reached is not None and reached.endpoint is found.route.endpoint, (
                f"{method} {path} does not reach {found.path}: add a sample for its parameters"
            )
            calls.append((method, path, found))
    ends_session = {("DELETE", "/api/v1/auth/token"), ("POST", "/console/logout")}
    return sorted(calls, key=lambda c: (c[0], c[2].path) in ends_session)


def test_every_route_declares_its_guard(tmp_path: Path) -> None:
    found = list(route_guards(_app(tmp_path)))

    assert len(found) > 250
    assert {type(r.guard) for r in found} == {Perm, Audience}
    # Staff routes live under the API, the console and the guide's workbench only.
    for r in found:
        if isinstance(r.guard, Perm) and not r.websocket:
            assert r.path.startswith(("/api/v1/", "/console", "/guide")), r.path


def test_a_route_without_a_guard_is_caught() -> None:
    app = FastAPI()

    @app.get("/declared", dependencies=[PUBLIC])
    async def declared() -> None: ...

    @app.get("/forgotten")
    async def forgotten() -> None: ...

    routes = {r.path: r for r in iter_route_contexts(app.routes)}
    assert guard_of(routes["/declared"]) is Audience.PUBLIC
    assert guard_of(routes["/forgotten"]) is None
    with pytest.raises(UndeclaredRoute, match="/forgotten"):
        list(route_guards(app))


def test_the_permissions_doc_is_current(tmp_path: Path) -> None:
    written = permissions_doc.DOC.read_text(encoding="utf-8")

    assert written == permissions_doc.render(_app(tmp_path)), (
        "docs/PERMISSIONS.md is stale: python -m loopmall.identity.permissions_doc"
    )


def test_the_cases_of_issue_11_fall_out_of_the_matrix(tmp_path: Path) -> None:
    """Money going back out and the merchant-wide money report have their own permission
    on every route that does them, and no store role holds the report's."""
    found = list(route_guards(_app(tmp_path)))
    refunds = [r for r in found if re.search(r"/(payments/)?refunds$", r.path)]
    reports = [r for r in found if "/reconciliation" in r.path]

    assert {(r.methods, r.path) for r in refunds} == {
        (("POST",), "/api/v1/payments/refunds"),
        (("POST",), "/console/orders/{order}/refunds"),
    }
    assert {r.guard for r in refunds} == {Perm.PAYMENTS_REFUND}
    assert len(reports) == 4 and {r.guard for r in reports} == {Perm.PAYMENTS_RECONCILE}
    for role in STORE_SCOPED_ROLES:
        assert Perm.PAYMENTS_RECONCILE not in ROLE_PERMISSIONS[role], role
    assert Perm.PAYMENTS_REFUND not in ROLE_PERMISSIONS[Role.CASHIER]


async def test_each_role_is_refused_exactly_what_it_lacks(
    app: FastAPI, state: AppState, client: httpx.AsyncClient
) -> None:
    tenant = await make_merchant(state)
    store = await make_store(state, tenant)
    headers: dict[Role, dict[str, str]] = {}
    for n, role in enumerate(Role):
        phone = f"1380000010{n}"
        scoped = (store.id,) if role in STORE_SCOPED_ROLES else ()
        await make_staff(state, tenant, phone=phone, role=role.value, store_ids=scoped)
        headers[role] = await token_for(client, tenant.slug, phone)
    calls = _staff_calls(app)
    started = time.perf_counter()

    wrong: list[str] = []
    for method, path, found in calls:
        # The roles at once: the guard's answer does not depend on the order.
        answers = await asyncio.gather(
            *(client.request(method, path, headers=auth) for auth in headers.values())
        )
        for role, response in zip(headers, answers, strict=True):
            body = response.json() if "json" in response.headers.get("content-type", "") else {}
            refused = response.status_code == 403
            if response.status_code >= 500:  # dummy ids and no body are bad input, not a crash
                wrong.append(f"{role.value} {method} {found.path}: {response.status_code}")
            elif role_may(role, found.guard):
                if refused:
                    wrong.append(f"{role.value} may {method} {found.path}, got 403 {body}")
            elif not refused or body.get("code") != "forbidden":
                wrong.append(f"{role.value} may not {method} {found.path}: {response.status_code}")
            elif isinstance(found.guard, Perm) and body.get("permission") != found.guard.value:
                wrong.append(f"{role.value} {method} {found.path}: refused for {body}")

    # Nobody logged in: every staff route and every shopper route asks for a login.
    anonymous = [(m, p, f.path) for m, p, f in calls]
    anonymous += [
        (method, _sample_path(r.path), r.path)
        for r in route_guards(app)
        if r.guard is Audience.SHOPPER and not r.websocket
        for method in r.methods
    ]
    for method, path, declared_path in anonymous:
        response = await client.request(method, path)
        if response.status_code != 401:
            wrong.append(f"anonymous {method} {declared_path}: {response.status_code}")

    elapsed = time.perf_counter() - started
    assert not wrong, "\n".join(wrong)
    assert len(calls) > 180
    print(f"{len(calls)} staff routes x {len(headers)} roles, {len(anonymous)} anonymous calls")
    print(f"in {elapsed:.1f} s")
