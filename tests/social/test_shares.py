"""Shares over HTTP: a shopper's signed link, the landing that counts and credits it, the
chain A → B → C, and the links that are refused with nothing written."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from loopmall.attribution.models import Touch
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.models import Store
from loopmall.social import links, service
from tests.factories import make_merchant
from tests.social.helpers import (
    as_cookie,
    open_link,
    path_of,
    person,
    share,
    share_row,
    share_touches,
    written,
)
from tests.storefront.seed import seed_mall


async def test_a_shopper_gets_one_signed_link_per_page(
    state: AppState, client: httpx.AsyncClient
) -> None:
    mall = await seed_mall(state)
    a = await person(state, mall.tenant, "阿花")
    b = await person(state, mall.tenant, "阿布")

    first = await share(client, "vero", a, "product", mall.coat)
    again = await share(client, "vero", a, "product", mall.coat)
    other = await share(client, "vero", b, "product", mall.coat)

    assert first["id"] == again["id"] and first["url"] == again["url"]
    assert other["id"] != first["id"]
    token = str(first["token"])
    assert first["url"] == f"{state.settings.base_url}/m/vero/s/{token}"
    assert links.unsign(state.settings.secret_key, token) == first["id"]
    assert first["poster_url"] == f"/m/vero/s/{token}/poster.png"
    assert (first["target_kind"], first["target"], first["title"]) == (
        "product",
        mall.coat,
        "羊毛大衣",
    )
    assert (first["parent"], first["depth"], first["visits"]) == (None, 0, 0)
    r = await client.get("/api/v1/mall/vero/shares", headers=a.bearer)
    assert [s["id"] for s in r.json()] == [first["id"]]


async def test_opening_a_link_counts_a_visit_records_a_share_touch_and_goes_to_the_page(
    state: AppState, client: httpx.AsyncClient
) -> None:
    mall = await seed_mall(state)
    a = await person(state, mall.tenant, "阿花")
    made = await share(client, "vero", a, "product", mall.coat)

    r = await open_link(client, made["url"])

    assert r.status_code == 303
    assert r.headers["location"] == f"/m/vero/p/{mall.coat}"
    assert client.cookies.get(links.share_cookie("vero")) == made["token"]
    visitor = client.cookies.get(state.settings.visitor_cookie)
    assert visitor and visitor.startswith("v_")
    [touch] = await share_touches(state, mall.tenant)
    row = await share_row(state, made["id"])
    assert (touch.customer_id, touch.visitor_id) == (None, visitor)
    assert (touch.share_id, touch.sharer_customer_id, touch.upstream_sharer_customer_id) == (
        row.id,
        a.customer_id,
        None,
    )
    r = await client.get("/api/v1/mall/vero/shares", headers=a.bearer)
    assert r.json()[0]["visits"] == 1

    # The sharer opening their own link is not a visit.
    as_cookie(client, state, "vero", a)
    r = await open_link(client, made["url"])
    assert r.status_code == 303
    assert (await written(state)).visits == 1


async def test_chain_a_to_b_to_c_carries_the_sharer_and_the_upstream_sharer(
    state: AppState, client: httpx.AsyncClient
) -> None:
    mall = await seed_mall(state)
    a = await person(state, mall.tenant, "阿花")
    b = await person(state, mall.tenant, "阿布")
    c = await person(state, mall.tenant, "阿草")
    a_share = await share(client, "vero", a, "product", mall.coat)

    # B, logged in in the browser, opens A's link, then shares the page from there.
    as_cookie(client, state, "vero", b)
    await open_link(client, a_share["url"])
    r = await client.post(
        "/api/v1/mall/vero/shares",
        json={"target_kind": "product", "target": mall.coat},
        headers={"X-CSRF-Token": b.csrf},
    )
    assert r.status_code == 201, r.text
    b_share = r.json()
    assert (b_share["parent"], b_share["depth"]) == (a_share["id"], 1)

    # C opens B's link (logged in: the touch is C's at once).
    client.cookies.clear()
    as_cookie(client, state, "vero", c)
    await open_link(client, b_share["url"])

    touches = await share_touches(state, mall.tenant)
    by_customer = {t.customer_id: t for t in touches}
    assert by_customer[b.customer_id].sharer_customer_id == a.customer_id
    assert by_customer[b.customer_id].upstream_sharer_customer_id is None
    assert by_customer[c.customer_id].sharer_customer_id == b.customer_id
    assert by_customer[c.customer_id].upstream_sharer_customer_id == a.customer_id
    b_row = await share_row(state, b_share["id"])
    assert by_customer[c.customer_id].share_id == b_row.id

    # C shares it on: the chain grows to depth 2, rooted at A's share.
    r = await client.post(
        "/api/v1/mall/vero/shares",
        json={"target_kind": "product", "target": mall.coat},
        headers={"X-CSRF-Token": c.csrf},
    )
    c_row = await share_row(state, r.json()["id"])
    a_row = await share_row(state, a_share["id"])
    assert (c_row.parent_share_id, c_row.root_share_id, c_row.depth) == (b_row.id, a_row.id, 2)


async def test_a_share_cookie_of_my_own_share_is_not_my_parent(
    state: AppState, client: httpx.AsyncClient
) -> None:
    mall = await seed_mall(state)
    a = await person(state, mall.tenant, "阿花")
    home = await share(client, "vero", a, "home")
    client.cookies.set(links.share_cookie("vero"), str(home["token"]))
    as_cookie(client, state, "vero", a)
    r = await client.post(
        "/api/v1/mall/vero/shares",
        json={"target_kind": "product", "target": mall.coat},
        headers={"X-CSRF-Token": a.csrf},
    )
    assert r.status_code == 201
    assert (r.json()["parent"], r.json()["depth"]) == (None, 0)


async def test_home_and_store_shares_land_on_their_pages(
    state: AppState, client: httpx.AsyncClient
) -> None:
    mall = await seed_mall(state)
    a = await person(state, mall.tenant, "阿花")
    async with UnitOfWork(state.read_factory) as uow:
        store = await uow.session.scalar(select(Store.public_id))
    home = await share(client, "vero", a, "home")
    at_store = await share(client, "vero", a, "store", str(store))
    assert (home["title"], at_store["title"]) == ("vero", "西单店")
    assert (await open_link(client, home["url"])).headers["location"] == "/m/vero/"
    r = await open_link(client, at_store["url"])
    assert r.headers["location"] == f"/m/vero/?store={store}"


async def test_refused_links_write_nothing(state: AppState, client: httpx.AsyncClient) -> None:
    mall = await seed_mall(state)
    await make_merchant(state, "acme", "Acme")
    a = await person(state, mall.tenant, "阿花")
    made = await share(client, "vero", a, "product", mall.coat)
    token = str(made["token"])
    public_id, signature = token.split(".")
    before = await written(state)

    tampered = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    forged = links.sign("not-our-secret", public_id)
    unknown = links.sign(state.settings.secret_key, "sh_0000000000000000")
    cases = [
        (f"/m/vero/s/{public_id}.{tampered}", 400, "share_link_invalid"),
        (f"/m/vero/s/{forged}", 400, "share_link_invalid"),
        ("/m/vero/s/not-a-token", 400, "share_link_invalid"),
        (f"/m/vero/s/{unknown}", 404, "share_not_found"),
        (f"/m/acme/s/{token}", 404, "share_not_found"),  # another merchant's mall
        (f"/m/nowhere/s/{token}", 404, "not_found"),
    ]
    for path, status, code in cases:
        r = await client.get(path)
        assert (r.status_code, r.json()["code"]) == (status, code), path
        assert r.headers["content-type"].startswith("application/problem+json")
        page = await open_link(client, path)
        assert page.status_code == status and "text/html" in page.headers["content-type"]
        assert links.share_cookie("vero") not in client.cookies
    assert await written(state) == before
    async with UnitOfWork(state.read_factory) as uow:
        assert (await uow.session.scalar(select(Touch.id))) is None
    assert path_of(made["url"]).endswith(token)


async def test_sharing_refuses_bad_targets_and_strangers(
    state: AppState, client: httpx.AsyncClient
) -> None:
    mall = await seed_mall(state)
    acme = await make_merchant(state, "acme", "Acme")
    a = await person(state, mall.tenant, "阿花")
    stranger = await person(state, acme, "路人")
    acme_home = await share(client, "acme", stranger, "home")
    before = await written(state)

    async def refused(body: dict[str, object], status: int, code: str, **headers: str) -> None:
        r = await client.post("/api/v1/mall/vero/shares", json=body, headers=headers or a.bearer)
        assert (r.status_code, r.json()["code"]) == (status, code), body

    await refused({"target_kind": "product", "target": mall.draft}, 404, "not_found")
    await refused({"target_kind": "product", "target": "pr_nope"}, 404, "not_found")
    await refused({"target_kind": "product", "target": ""}, 422, "share_target_invalid")
    await refused({"target_kind": "store", "target": "st_nope"}, 404, "not_found")
    await refused({"target_kind": "home", "target": mall.coat}, 422, "share_target_invalid")
    await refused({"target_kind": "coupon", "target": "c1"}, 422, "share_target_unsupported")
    await refused({"target_kind": "nope"}, 422, "validation_failed")
    await refused({"target_kind": "home", "via": "x.y"}, 400, "share_link_invalid")
    await refused({"target_kind": "home", "via": acme_home["token"]}, 404, "share_not_found")
    await refused({"target_kind": "home"}, 401, "shopper_unauthorized", Accept="application/json")
    # A token of another mall's session is not a shopper here.
    await refused({"target_kind": "home"}, 401, "shopper_unauthorized", **stranger.bearer)
    # The cookie session needs the CSRF token.
    as_cookie(client, state, "vero", a)
    r = await client.post("/api/v1/mall/vero/shares", json={"target_kind": "home"})
    assert (r.status_code, r.json()["code"]) == (403, "csrf_failed")
    assert await written(state) == before


async def test_creating_a_share_is_idempotent_with_a_key(
    state: AppState, client: httpx.AsyncClient
) -> None:
    mall = await seed_mall(state)
    a = await person(state, mall.tenant, "阿花")
    headers = a.bearer | {"Idempotency-Key": "share-1"}
    body = {"target_kind": "product", "target": mall.coat}
    r1 = await client.post("/api/v1/mall/vero/shares", json=body, headers=headers)
    r2 = await client.post("/api/v1/mall/vero/shares", json=body, headers=headers)
    assert r1.status_code == r2.status_code == 201
    assert r1.json() == r2.json()
    r3 = await client.post(
        "/api/v1/mall/vero/shares", json={"target_kind": "home"}, headers=headers
    )
    assert (r3.status_code, r3.json()["code"]) == (422, "idempotency_key_reused")
    assert (await written(state)).shares == 1


async def test_a_reload_is_not_a_new_visit(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    mall = await seed_mall(state)
    a = await person(state, mall.tenant, "阿花")
    made = await share(client, "vero", a, "product", mall.coat)
    for _ in range(3):
        assert (await open_link(client, made["url"])).status_code == 303
    assert ((await written(state)).visits, (await written(state)).touches) == (1, 1)
    frozen_clock.advance(seconds=service.REVISIT_SECONDS + 1)
    await open_link(client, made["url"])
    assert ((await written(state)).visits, (await written(state)).touches) == (2, 2)
    # Another device is another visitor.
    client.cookies.clear()
    await open_link(client, made["url"])
    assert (await written(state)).visits == 3
