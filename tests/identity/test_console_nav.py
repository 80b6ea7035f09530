"""The console's navigation shows the pages a role opens and hides the rest (#11: "the
console hides what a role can't do"), read off the routes' guards."""

from __future__ import annotations

import re
from typing import Any

import httpx

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.identity.guards import page_guard, route_guards
from loopmall.identity.permissions import STORE_SCOPED_ROLES, Audience, Role, role_may
from loopmall.orders import service as orders
from tests.factories import make_merchant, make_staff
from tests.inventory.fixtures import make_store
from tests.merchants.conftest import console_login
from tests.orders.fixtures import pay_order

HTML = {"Accept": "text/html"}


async def _nav(client: httpx.AsyncClient) -> list[str]:
    page = await client.get("/console/orders", headers=HTML)
    assert page.status_code == 200, page.text
    nav = re.search(r'<nav class="mainnav">(.*?)</nav>', page.text, re.S)
    assert nav is not None
    return re.findall(r'<a href="([^"]+)"', nav[1])


async def test_a_cashier_sees_the_till_pages_and_not_reconciliation(
    state: AppState, client: httpx.AsyncClient
) -> None:
    tenant = await make_merchant(state)
    await make_staff(state, tenant, phone="13800000008", role="cashier")
    await console_login(client, tenant.slug, "13800000008")

    links = await _nav(client)

    assert links == [
        "/console",
        "/console/stores",
        "/console/products",
        "/console/stock",
        "/console/orders",
        "/console/store-sales",  # the till takes the money for guides' store sales
        "/console/pickup",
        "/console/payments",
        "/console/qrcodes",
    ]


async def test_the_owner_sees_every_page(state: AppState, client: httpx.AsyncClient) -> None:
    tenant = await make_merchant(state)
    await make_staff(state, tenant)
    await console_login(client, tenant.slug, "13800000001")

    links = await _nav(client)

    assert "/console/reconciliation" in links and "/console/settings" in links
    assert len(links) == 19


async def test_the_overview_links_only_to_pages_the_role_opens(
    app: Any, state: AppState, client: httpx.AsyncClient
) -> None:
    tenant = await make_merchant(state)
    await make_staff(state, tenant)
    await make_staff(state, tenant, phone="13800000008", role="cashier")

    await console_login(client, tenant.slug, "13800000008")
    cashier = await client.get("/console", headers=HTML)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await console_login(other, tenant.slug, "13800000001")
        owner = await other.get("/console", headers=HTML)

    assert 'class="card stat" href="/console/staff"' not in cashier.text
    assert 'id="count-staff"' not in cashier.text
    assert 'class="card stat" href="/console/stores"' in cashier.text
    assert 'class="card stat" href="/console/staff"' in owner.text
    assert 'href="/console/stores/new"' in owner.text


LINK = re.compile(r'<a [^>]*href="(/(?:console|guide)[^"?#]*)')
FORM = re.compile(r"<form ([^>]*)>(.*?)</form>", re.S | re.I)
ACTION = re.compile(r'method="post"[^>]*action="(/(?:console|guide)[^"?#]*)"', re.I)
SUBMIT = re.compile(r'<button(?![^>]*type="button")|type="submit"', re.I)
DISABLED = re.compile(r"<fieldset[^>]*\bdisabled\b", re.I)


def offered_forms(html: str) -> list[str]:
    """The actions of the POST forms a person can submit: with a submit control and not
    shown read-only (a disabled fieldset)."""
    actions = []
    for attributes, body in FORM.findall(html):
        action = ACTION.search(attributes)
        if action and SUBMIT.search(body) and not DISABLED.search(body):
            actions.append(action[1])
    return actions


async def _paid_store_order(state: AppState, tenant: Tenant, store_id: int) -> str:
    """A face-to-face sale of the store, paid online: its page offers a refund."""
    async with UnitOfWork(state.write_factory) as uow:
        made = await orders.create_face_to_face_order(
            uow.session,
            tenant,
            amount_fen=20_00,
            store_id=store_id,
            guide_staff_id=None,
            customer_id=None,
            note="crawl",
        )
        await uow.commit()
    await pay_order(state, tenant, made.public_id)
    return made.public_id


async def test_no_role_is_shown_a_link_or_a_form_it_may_not_use(
    app: Any, state: AppState, client: httpx.AsyncClient
) -> None:
    """Every console page a role opens, crawled two links deep (a paid order of the store on
    the way): each link shown opens (no 403) and each form offered posts to a route the
    role's permissions allow."""
    tenant = await make_merchant(state)
    store = await make_store(state, tenant)
    order = await _paid_store_order(state, tenant, store.id)
    starts = sorted(
        {
            r.path
            for r in route_guards(app)
            if "GET" in r.methods
            and r.path.startswith(("/console", "/guide"))
            and "{" not in r.path
        }
    )
    wrong: list[str] = []
    crawled: set[str] = set()
    for n, role in enumerate(Role):
        phone = f"1380000020{n}"
        scoped = (store.id,) if role in STORE_SCOPED_ROLES else ()
        await make_staff(state, tenant, phone=phone, role=role.value, store_ids=scoped)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            await console_login(c, tenant.slug, phone)
            level = [p for p in starts if role_may(role, page_guard(app, p) or Audience.PUBLIC)]
            seen = set(level) | {"/console/logout"}
            for depth in range(3):
                found: set[str] = set()
                for path in level:
                    page = await c.get(path, headers=HTML)
                    if depth and page.status_code == 403:
                        wrong.append(f"{role.value}: a link to {path} answers 403")
                    if page.status_code != 200 or "text/html" not in page.headers["content-type"]:
                        continue  # a download, or a page that needs more than its path
                    crawled.add(path)
                    for action in offered_forms(page.text):
                        guard = page_guard(app, action, "POST")
                        if guard is None or not role_may(role, guard):
                            wrong.append(f"{role.value}: {path} offers a form to {action}")
                    found.update(LINK.findall(page.text))
                level = sorted(found - seen)
                seen |= found

    assert not wrong, "\n".join(wrong)
    assert f"/console/orders/{order}" in crawled
