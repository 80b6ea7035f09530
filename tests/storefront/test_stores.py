"""The mall's stores (issue #13): the list /m/{slug}/stores and the store page
/m/{slug}/stores/{store}, and their API. Open stores only, by name or nearest first, hours
said in Shanghai time, the store's guides to chat with; a closed store or another
merchant's is 404; each read is a pinned number of statements whatever the number of stores
or guides."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from loopmall.core.clock import FrozenClock
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.stores import create_store, update_store
from tests.factories import make_merchant, make_staff
from tests.reads import reading

HTML = {"Accept": "text/html"}
# Monday 7 December 2026, 12:00 in Shanghai.
NOON_MONDAY = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
WEEKDAYS_AND_WEEKEND = "mon-fri 10:00-22:00; sat,sun 09:00-23:00"


@dataclass
class World:
    tenant: Tenant
    stores: dict[str, str]  # name → public id
    closed: str
    other_merchants: str


async def _store(state: AppState, tenant: Tenant, code: str, name: str, **fields: Any) -> str:
    async with UnitOfWork(state.write_factory) as uow:
        store = await create_store(uow.session, tenant, code=code, name=name, **fields)
        await uow.commit()
        return store.public_id


async def _close(state: AppState, tenant: Tenant, public_id: str) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        await update_store(uow.session, tenant, public_id, {"status": "closed"})
        await uow.commit()


async def _world(state: AppState) -> World:
    """VERO with three open stores (Shanghai People's Square, Beijing Xidan, Hangzhou West
    Lake without coordinates), a closed one, and another merchant's store."""
    tenant = await make_merchant(state, "vero", "VERO")
    stores = {
        "A 人民广场店": await _store(
            state,
            tenant,
            "SH1",
            "A 人民广场店",
            city="上海",
            district="黄浦区",
            address="南京东路 1 号",
            phone="021-6000 0001",
            latitude=31.2304,
            longitude=121.4737,
            opening_hours=WEEKDAYS_AND_WEEKEND,
            pickup_enabled=True,
        ),
        "B 西单店": await _store(
            state,
            tenant,
            "BJ1",
            "B 西单店",
            city="北京",
            district="西城区",
            latitude=39.9087,
            longitude=116.3747,
            opening_hours="22:00-02:00",
            pickup_enabled=False,
        ),
        "C 西湖店": await _store(state, tenant, "HZ1", "C 西湖店", city="杭州", district="西湖区"),
    }
    closed = await _store(state, tenant, "SH9", "Z 已关店", city="上海")
    await _close(state, tenant, closed)
    other = await make_merchant(state, "nova", "NOVA")
    theirs = await _store(state, other, "N1", "NOVA 店", city="上海")
    return World(tenant, stores, closed, theirs)


@pytest.fixture
def noon(frozen_clock: FrozenClock) -> FrozenClock:
    frozen_clock.set(NOON_MONDAY)
    return frozen_clock


def _listed(html: str) -> list[str]:
    return re.findall(r'<li data-store="(st_[A-Za-z0-9_]+)"', html)


async def test_the_list_shows_open_stores_by_name_with_todays_hours(
    state: AppState, client: httpx.AsyncClient, noon: FrozenClock
) -> None:
    # Given three open stores, a closed one and another merchant's
    w = await _world(state)

    # When a visitor opens the store list
    page = await client.get("/m/vero/stores", headers=HTML)

    # Then the open stores are listed by name, the closed and the other merchant's are not
    assert page.status_code == 200, page.text
    assert _listed(page.text) == list(w.stores.values())
    assert w.closed not in page.text and w.other_merchants not in page.text
    # And People's Square is open now at noon on a Monday, Xidan (22:00-02:00) is not
    square = page.text.split('data-store="')[1]
    xidan = page.text.split('data-store="')[2]
    assert "营业中" in square and "今天: 10:00-22:00" in square
    assert "休息中" in xidan and "今天: 22:00-02:00" in xidan
    assert 'href="tel:02160000001"' in square
    assert "https://uri.amap.com/marker?position=121.4737,31.2304" in square
    assert "自提" in square and "自提" not in xidan
    # And each store links to its page
    assert f'href="/m/vero/stores/{w.stores["A 人民广场店"]}"' in page.text


async def test_a_store_that_runs_past_midnight_is_open_in_the_small_hours(
    state: AppState, client: httpx.AsyncClient, noon: FrozenClock
) -> None:
    w = await _world(state)
    noon.set(datetime(2026, 12, 7, 17, 30, tzinfo=UTC))  # Tuesday 01:30 in Shanghai

    found = await client.get(f"/api/v1/mall/vero/stores/{w.stores['B 西单店']}")

    assert found.status_code == 200, found.text
    assert (found.json()["open_now"], found.json()["today"]) == (True, ["22:00-02:00"])


async def test_nearest_first_pages_on_with_stores_without_a_position_last(
    state: AppState, client: httpx.AsyncClient, noon: FrozenClock
) -> None:
    # Given the three open stores
    w = await _world(state)

    # When a visitor in Beijing pages through the API one store at a time, nearest first
    seen, distances, cursor = [], [], None
    while True:
        params = {"near": "39.9,116.4", "limit": "1"} | ({"cursor": cursor} if cursor else {})
        got = await client.get("/api/v1/mall/vero/stores", params=params)
        assert got.status_code == 200, got.text
        seen += [s["id"] for s in got.json()["items"]]
        distances += [s["distance_m"] for s in got.json()["items"]]
        cursor = got.json()["next_cursor"]
        if cursor is None:
            break

    # Then Xidan, then People's Square, then West Lake (no coordinates, no distance)
    names = {v: k for k, v in w.stores.items()}
    assert [names[s] for s in seen] == ["B 西单店", "A 人民广场店", "C 西湖店"]
    assert distances[0] is not None and 2_000 < distances[0] < 3_000
    assert distances[1] is not None and 1_000_000 < distances[1] < 1_100_000
    assert distances[2] is None
    # And the page says it is sorted by distance, and keeps the position in its search
    page = await client.get("/m/vero/stores", params={"near": "39.9,116.4"}, headers=HTML)
    assert [names[s] for s in _listed(page.text)] == ["B 西单店", "A 人民广场店", "C 西湖店"]
    assert 'id="sorted-near"' in page.text
    assert '<input type="hidden" name="near" value="39.9,116.4">' in page.text


async def test_the_search_looks_in_name_city_and_district(
    state: AppState, client: httpx.AsyncClient, noon: FrozenClock
) -> None:
    w = await _world(state)
    by_city = await client.get("/m/vero/stores", params={"q": "北京"}, headers=HTML)
    by_district = await client.get("/api/v1/mall/vero/stores", params={"q": "西湖区"})
    by_name = await client.get("/api/v1/mall/vero/stores", params={"q": "人民广场"})
    nothing = await client.get("/m/vero/stores", params={"q": "广州"}, headers=HTML)

    assert _listed(by_city.text) == [w.stores["B 西单店"]]
    assert [s["id"] for s in by_district.json()["items"]] == [w.stores["C 西湖店"]]
    assert [s["id"] for s in by_name.json()["items"]] == [w.stores["A 人民广场店"]]
    assert 'id="no-stores"' in nothing.text and "没有符合条件的门店" in nothing.text


async def test_the_list_pages_with_a_next_link(
    state: AppState, client: httpx.AsyncClient, noon: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopmall.storefront import stores as store_pages

    w = await _world(state)
    monkeypatch.setattr(store_pages, "STORE_PAGE", 2)

    first = await client.get("/m/vero/stores", headers=HTML)
    link = re.search(r'rel="next" class="[^"]*" href="([^"]+)"', first.text)
    assert link is not None, first.text
    second = await client.get(link[1].replace("&amp;", "&"), headers=HTML)

    assert _listed(first.text) + _listed(second.text) == list(w.stores.values())
    assert 'rel="next"' not in second.text


async def test_the_store_page_has_the_week_the_phone_the_map_and_its_guides(
    state: AppState, client: httpx.AsyncClient, noon: FrozenClock
) -> None:
    # Given People's Square with a guide and a store manager, an inactive guide, a cashier,
    # and a guide of another store
    w = await _world(state)
    square = w.stores["A 人民广场店"]
    ids = await _store_ids(state, w.tenant)
    guide = await make_staff(
        state, w.tenant, phone="13800000011", role="guide", name="小王", store_ids=(ids[square],)
    )
    manager = await make_staff(
        state,
        w.tenant,
        phone="13800000012",
        role="store_manager",
        name="李店长",
        store_ids=(ids[square],),
    )
    cashier = await make_staff(
        state, w.tenant, phone="13800000013", role="cashier", name="收银", store_ids=(ids[square],)
    )
    elsewhere = await make_staff(
        state,
        w.tenant,
        phone="13800000014",
        role="guide",
        name="小北",
        store_ids=(ids[w.stores["B 西单店"]],),
    )

    # When a visitor opens the store's page
    page = await client.get(f"/m/vero/stores/{square}", headers=HTML)

    # Then it shows the week with today marked, the phone link, the map and pickup
    assert page.status_code == 200, page.text
    html = page.text
    assert "<h1>A 人民广场店</h1>" in html
    week = re.findall(r"<th scope=\"row\">(.+?)</th>\s*<td>(.+?)</td>", html)
    assert week == [(d, "10:00-22:00") for d in ("周一", "周二", "周三", "周四", "周五")] + [
        (d, "09:00-23:00") for d in ("周六", "周日")
    ]
    assert '<tr class="today" aria-current="date">\n        <th scope="row">周一' in html
    assert 'href="tel:02160000001"' in html and 'id="store-map"' in html
    assert 'id="store-pickup"' in html and "营业中" in html
    # And its guides and store manager to chat with, not the cashier nor another store's
    chats = re.findall(r'href="/m/vero/chat\?guide=(stf_[A-Za-z0-9_]+)"', html)
    assert sorted(chats) == sorted([guide.public_id, manager.public_id])
    assert cashier.public_id not in html and elsewhere.public_id not in html
    # And the API says the same
    api = (await client.get(f"/api/v1/mall/vero/stores/{square}")).json()
    assert api["week"][0] == {"day": "mon", "spans": ["10:00-22:00"]}
    assert {g["id"] for g in api["guides"]} == {guide.public_id, manager.public_id}
    assert api["pickup"] is True and api["hours_given"] is True


async def test_a_store_without_hours_or_pickup_says_so(
    state: AppState, client: httpx.AsyncClient, noon: FrozenClock
) -> None:
    w = await _world(state)
    lake = await client.get(f"/m/vero/stores/{w.stores['C 西湖店']}", headers=HTML)
    xidan = await client.get(f"/m/vero/stores/{w.stores['B 西单店']}", headers=HTML)

    assert "门店尚未提供营业时间" in lake.text and 'id="store-map"' not in lake.text
    assert 'id="store-no-pickup"' in xidan.text and 'id="store-guides"' not in xidan.text


async def test_a_closed_store_or_another_merchants_is_not_found(
    state: AppState, client: httpx.AsyncClient, noon: FrozenClock
) -> None:
    w = await _world(state)
    for store in (w.closed, w.other_merchants, "st_nosuchstore"):
        page = await client.get(f"/m/vero/stores/{store}", headers=HTML)
        api = await client.get(f"/api/v1/mall/vero/stores/{store}")
        assert page.status_code == 404, page.text
        assert api.status_code == 404 and api.json()["code"] == "not_found", api.text
        assert api.headers["content-type"].startswith("application/problem+json")
    # Nor is a mall that does not exist
    assert (await client.get("/api/v1/mall/nope/stores")).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"near": "north"},
        {"near": "91,10"},
        {"near": "10,181"},
        {"cursor": "WyJ4Il0"},
        {"cursor": "!!"},
        {"limit": "51"},
        {"limit": "0"},
    ],
)
async def test_bad_input_is_refused(
    state: AppState, client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    await _world(state)
    refused = await client.get("/api/v1/mall/vero/stores", params=params)
    assert refused.status_code == 422, refused.text


async def test_a_nearest_first_cursor_is_not_a_by_name_cursor(
    state: AppState, client: httpx.AsyncClient
) -> None:
    await _world(state)
    first = await client.get("/api/v1/mall/vero/stores", params={"limit": "1"})
    cursor = first.json()["next_cursor"]
    mixed = await client.get(
        "/api/v1/mall/vero/stores", params={"limit": "1", "cursor": cursor, "near": "31,121"}
    )
    assert mixed.status_code == 422, mixed.text


async def _store_ids(state: AppState, tenant: Tenant) -> dict[str, int]:
    from sqlalchemy import select

    from loopmall.merchants.models import Store

    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.execute(
            select(Store.public_id, Store.id).where(Store.merchant_id == tenant.id)
        )
        return {public_id: store_id for public_id, store_id in rows.all()}


async def _more_stores(state: AppState, tenant: Tenant, count: int) -> None:
    for i in range(count):
        await _store(
            state, tenant, f"X{i}", f"X 门店 {i:02d}", latitude=30 + i / 10, longitude=120.0
        )


async def _statements(state: AppState, client: httpx.AsyncClient, path: str) -> int:
    with reading(state) as seen:
        got = await client.get(path, headers=HTML)
    assert got.status_code == 200, got.text
    return len(seen.statements)


async def test_the_store_reads_are_pinned_whatever_the_number_of_stores_and_guides(
    state: AppState, client: httpx.AsyncClient, noon: FrozenClock
) -> None:
    # Given the world, measured; then 25 stores and 6 guides more, measured again
    w = await _world(state)
    square = w.stores["A 人民广场店"]
    ids = await _store_ids(state, w.tenant)
    await make_staff(
        state, w.tenant, phone="13800000021", role="guide", name="g", store_ids=(ids[square],)
    )
    paths = [
        "/m/vero/stores",
        "/m/vero/stores?near=31.2,121.4",
        f"/m/vero/stores/{square}",
        "/api/v1/mall/vero/stores?near=31.2,121.4",
        f"/api/v1/mall/vero/stores/{square}",
    ]
    before = [await _statements(state, client, p) for p in paths]
    await _more_stores(state, w.tenant, 25)
    for i in range(6):
        await make_staff(
            state,
            w.tenant,
            phone=f"1380000010{i}",
            role="guide",
            name=f"g{i}",
            store_ids=(ids[square],),
        )
    after = [await _statements(state, client, p) for p in paths]

    # Then each read sends as many statements as before: the mall (merchant and its
    # settings) and one for the stores; the store page one more for its guides; the API
    # reads the merchant alone
    assert before == after == [3, 3, 4, 2, 3]
