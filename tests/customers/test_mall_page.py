"""The mall page preamble (``customers.mall_page``): the mall by its slug, the customer
signed in to that mall, the detour through the login page, and the two render helpers.
Probed through routes added to the app for the test, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import update

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.mall_page import (
    CustomerPage,
    VisitorPage,
    customer_back_to,
    mall_customer,
    mall_visitor,
)
from loopmall.customers.service import cookie_name, sandbox_login
from loopmall.merchants.models import Merchant
from tests.factories import make_merchant

HTML = {"accept": "text/html"}


def _probe_routes() -> APIRouter:
    router = APIRouter()

    @router.get("/m/{slug}/_probe/visitor")
    async def visitor(page: VisitorPage = Depends(mall_visitor)) -> Response:
        who = page.customer.display_name if page.customer else "nobody"
        return PlainTextResponse(f"{page.tenant.slug} {page.mall.name} {who}")

    @router.get("/m/{slug}/_probe/customer")
    async def customer(page: CustomerPage = Depends(mall_customer)) -> Response:
        return PlainTextResponse(f"{page.tenant.id} {page.customer.customer_id}")

    @router.post("/m/{slug}/_probe/items/{item}")
    async def form(
        page: CustomerPage = Depends(customer_back_to("/m/{slug}/_probe/items/{item}")),
    ) -> Response:
        return PlainTextResponse(page.customer.display_name)

    @router.get("/m/{slug}/_probe/render")
    async def rendered(page: VisitorPage = Depends(mall_visitor), refuse: int = 0) -> Response:
        context = {"code": "probe", "title": "", "detail": "typed-in value"}
        if refuse:
            return page.render_refused(
                "web/error.html", context, errors={"status": "refused"}, status_code=refuse
            )
        return page.render("web/error.html", context | {"status": page.mall.name}, tab="me")

    @router.get("/m/{slug}/_probe/maybe")
    async def maybe(page: VisitorPage = Depends(mall_visitor)) -> Response:
        if page.customer is None:
            page.login_required(f"/m/{page.slug}/cart")
        return PlainTextResponse("in")

    return router


@pytest.fixture
async def probe(app: Any, client: httpx.AsyncClient) -> httpx.AsyncClient:
    app.include_router(_probe_routes())
    return client


async def _sign_in(state: AppState, tenant: Tenant, name: str) -> str:
    async with UnitOfWork(state.write_factory) as uow:
        _customer, token = await sandbox_login(uow.session, tenant, name=name, kind="cookie")
        await uow.commit()
    return token


async def test_an_unknown_or_suspended_mall_is_the_404_page(
    state: AppState, probe: httpx.AsyncClient
) -> None:
    await make_merchant(state, "gone", "Gone")
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(
            update(Merchant).where(Merchant.slug == "gone").values(status="suspended")
        )
        await uow.commit()
    for path in (
        "/m/nosuch/_probe/visitor",
        "/m/nosuch/_probe/customer",
        "/m/gone/_probe/customer",
    ):
        page = await probe.get(path, headers=HTML)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert "<h1>404</h1>" in page.text, path
    # a form of an unknown mall: the 404 too, not a login that leads nowhere
    posted = await probe.post("/m/nosuch/_probe/items/x1", headers=HTML)
    assert posted.status_code == 404


async def test_nobody_signed_in_is_sent_to_the_login_and_back(
    state: AppState, probe: httpx.AsyncClient
) -> None:
    await make_merchant(state, "acme", "Acme 果园")
    visit = await probe.get("/m/acme/_probe/visitor")
    assert (visit.status_code, visit.text) == (200, "acme Acme 果园 nobody")

    page = await probe.get("/m/acme/_probe/customer?a=1&b=x%2Fy", headers=HTML)
    assert page.status_code == 303
    assert page.headers["location"] == (
        "/m/acme/login?next=/m/acme/_probe/customer%3Fa%3D1%26b%3Dx%252Fy"
    )
    # the same for a client that does not ask for HTML: a detour, not a problem document
    assert (await probe.get("/m/acme/_probe/customer")).headers["location"] == (
        "/m/acme/login?next=/m/acme/_probe/customer"
    )
    # a form's POST cannot be replayed after the login: back to the page the route names
    posted = await probe.post("/m/acme/_probe/items/x1?ignored=1")
    assert posted.status_code == 303
    assert posted.headers["location"] == "/m/acme/login?next=/m/acme/_probe/items/x1"
    # a page that decides itself names where to come back to
    maybe = await probe.get("/m/acme/_probe/maybe")
    assert maybe.headers["location"] == "/m/acme/login?next=/m/acme/cart"


async def test_a_next_outside_the_mall_comes_back_to_its_home(
    state: AppState, probe: httpx.AsyncClient
) -> None:
    await make_merchant(state, "acme")
    # a path the browser would read as another host is never put in next=
    for item in ("%5Cevil.example", "a%20b"):
        posted = await probe.post(f"/m/acme/_probe/items/{item}")
        assert posted.status_code == 303, item
        assert posted.headers["location"] == "/m/acme/login?next=/m/acme/", item


async def test_a_customer_of_another_mall_is_not_signed_in_here(
    state: AppState, probe: httpx.AsyncClient
) -> None:
    await make_merchant(state, "acme", "Acme")
    other = await make_merchant(state, "other", "Other")
    token = await _sign_in(state, other, "阿花")
    # their own mall's cookie is not this mall's
    probe.cookies.set(cookie_name(state.settings, "other"), token)
    assert (await probe.get("/m/other/_probe/visitor")).text == "other Other 阿花"
    assert (await probe.get("/m/acme/_probe/visitor")).text == "acme Acme nobody"
    away = await probe.get("/m/acme/_probe/customer")
    assert away.status_code == 303
    assert away.headers["location"] == "/m/acme/login?next=/m/acme/_probe/customer"
    # and their session token under this mall's cookie name is no session here either
    probe.cookies.set(cookie_name(state.settings, "acme"), token)
    assert (await probe.get("/m/acme/_probe/visitor")).text == "acme Acme nobody"
    assert (await probe.get("/m/acme/_probe/customer")).status_code == 303


async def test_a_signed_in_customer_sees_the_page(
    state: AppState, probe: httpx.AsyncClient
) -> None:
    acme = await make_merchant(state, "acme", "Acme")
    probe.cookies.set(cookie_name(state.settings, "acme"), await _sign_in(state, acme, "阿花"))
    page = await probe.get("/m/acme/_probe/customer")
    assert page.status_code == 200
    tenant_id, customer_id = (int(x) for x in page.text.split())
    assert tenant_id == acme.id and customer_id > 0
    assert (await probe.get("/m/acme/_probe/visitor")).text == "acme Acme 阿花"
    assert (await probe.get("/m/acme/_probe/maybe")).text == "in"


async def test_render_and_render_refused(state: AppState, probe: httpx.AsyncClient) -> None:
    await make_merchant(state, "acme", "Acme 果园")
    page = await probe.get("/m/acme/_probe/render")
    assert page.status_code == 200 and "<h1>Acme 果园</h1>" in page.text
    refused = await probe.get("/m/acme/_probe/render?refuse=422")
    assert refused.status_code == 422
    assert "<h1>refused</h1>" in refused.text and "typed-in value" in refused.text
    with pytest.raises(ValueError, match="4xx or 5xx"):
        await probe.get("/m/acme/_probe/render?refuse=200")
