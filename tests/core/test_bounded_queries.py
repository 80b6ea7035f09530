"""No statement binds a list that grows with the merchant (issue #11, case 2).

A store manager of more stores than ``LIMIT`` walks every GET list route of the API and
every console list page: each answers without a 5xx, and no statement any of them sends
binds more than ``LIMIT`` parameters (``one_of`` binds a store scope as one array). Before
``core.valueset`` the scope was ``store_id IN (…one parameter per store…)``: 1,500 here,
and past 32,767 stores PostgreSQL refused the statement (500)."""

from __future__ import annotations

import typing

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from loopmall.core.state import AppState
from tests.chain_rows import insert_chain
from tests.factories import make_merchant, make_staff, token_for
from tests.statement_params import LIMIT, counting_params

MANAGED = 1_200  # more stores than LIMIT: an IN (...) over them would bind 1,200

# Pages that are forms or files, not lists.
NOT_LISTS = ("/console/login", "/console/signup", "/console/settings", "/new", "/import", ".csv")


def get_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """Every GET route of the app, with its full path (routers included at any depth)."""

    def walk(routes: list[typing.Any], prefix: str) -> typing.Iterator[tuple[str, APIRoute]]:
        for r in routes:
            if hasattr(r, "original_router"):  # FastAPI ≥ 0.165 keeps included routers
                yield from walk(r.original_router.routes, prefix + (r.include_context.prefix or ""))
            elif hasattr(r, "routes") and not isinstance(r, APIRoute):
                yield from walk(r.routes, prefix + getattr(r, "path", ""))
            elif isinstance(r, APIRoute) and "GET" in r.methods:
                yield prefix + r.path, r

    return list(walk(app.routes, ""))


def list_routes(app: FastAPI) -> list[str]:
    """GET list endpoints under /api/v1 (a list or a page answer) and console list pages,
    without path parameters."""
    out = []
    for path, route in get_routes(app):
        if "{" in path:
            continue
        model = route.response_model
        is_list = model is not None and (typing.get_origin(model) is list or "Page" in str(model))
        if path.startswith("/api/v1/") and is_list:
            out.append(path)
        elif path.startswith("/console") and not any(n in path for n in NOT_LISTS):
            out.append(path)
    return sorted(set(out))


async def test_a_manager_of_many_stores_reads_every_list_with_bounded_statements(
    app: FastAPI, state: AppState, client: httpx.AsyncClient, backend: str
) -> None:
    # Given a chain where a store manager runs 1,200 stores
    tenant = await make_merchant(state)
    await insert_chain(state, backend, tenant, stores=MANAGED + 10, guides=20)
    async with state.read_factory() as session:
        from sqlalchemy import select

        from loopmall.merchants.models import Store

        managed = tuple(
            (
                await session.scalars(
                    select(Store.id).where(Store.merchant_id == tenant.id).order_by(Store.id)
                )
            ).all()[:MANAGED]
        )
    await make_staff(state, tenant, phone="13700000001", role="store_manager", store_ids=managed)
    headers = await token_for(client, tenant.slug, "13700000001")
    paths = list_routes(app)
    assert "/api/v1/payments/codes" in paths and "/console/orders" in paths

    # When they open every list
    failed, wide = [], []
    for path in paths:
        with counting_params(state) as seen:
            got = await client.get(path, headers=headers)
        if got.status_code >= 500:
            failed.append((path, got.status_code))
        if seen.most_params >= LIMIT:
            wide.append((path, seen.most_params, seen.worst[:160]))

    # Then none failed, and none bound a parameter per store
    assert failed == []
    assert wide == []
