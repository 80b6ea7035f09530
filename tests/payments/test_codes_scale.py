"""收款码 at chain scale (issue #11, case 2): a merchant with more stores than asyncpg's
32,767 parameters. The list answers one page, quickly, makes codes only for that page, and
no statement binds more than a page's worth of parameters — on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.models import Store
from loopmall.payments import codes
from loopmall.payments.models import PaymentCode
from loopmall.staff.models import Staff
from tests.chain_rows import insert_chain
from tests.factories import make_merchant, make_staff, token_for
from tests.statement_params import LIMIT, counting_params

STORES = 33_000
GUIDES = 1_200
MANAGED = 1_500  # the store manager's stores: a scope too large for IN (...)


@pytest.fixture
async def chain_cleanup(state: AppState, backend: str) -> AsyncIterator[None]:
    """Empties the chain's tables after the test: the harness's row-by-row DELETE of 33,000
    stores (each checked against every table that refers to stores) takes most of a minute
    on PostgreSQL; TRUNCATE … CASCADE takes a moment."""
    yield
    if backend == "postgres":
        async with state.engine.begin() as conn:
            await conn.execute(text("TRUNCATE payment_codes, staff_stores, staff, stores CASCADE"))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    # No payment stand-ins: listing codes talks to no provider.
    return Settings(
        env="test",
        database_url=db_url,
        data_dir=tmp_path / "data",
        auto_migrate=False,
        run_background=False,
        secret_key="test-secret",
    )


async def _chain(state: AppState, backend: str, tenant: Tenant, *, stores: int = STORES) -> None:
    await insert_chain(state, backend, tenant, stores=stores, guides=GUIDES)


async def _code_count(state: AppState) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(PaymentCode)) or 0)


async def _store_ids(state: AppState, tenant: Tenant, n: int) -> tuple[int, ...]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.scalars(
            select(Store.id).where(Store.merchant_id == tenant.id).order_by(Store.id).limit(n)
        )
        return tuple(rows.all())


async def test_codes_of_a_chain_bigger_than_the_parameter_limit(
    state: AppState, client: httpx.AsyncClient, backend: str, chain_cleanup: None
) -> None:
    # Given a merchant with 33,000 stores and 1,200 guides, none of them with a code yet
    tenant = await make_merchant(state)
    await make_staff(state, tenant)
    await _chain(state, backend, tenant)
    owner = await token_for(client, tenant.slug, "13800000001")

    # When the owner lists the codes, then the console page
    with counting_params(state) as seen:
        started = time.perf_counter()
        first = await client.get("/api/v1/payments/codes", headers=owner)
        page = await client.get("/console/qrcodes", headers=owner)
        took = time.perf_counter() - started

    # Then each answers one page, quickly, having made codes for that page only
    assert first.status_code == 200, first.text
    assert page.status_code == 200, page.text
    body = first.json()
    assert [i["label"] for i in body["items"]] == [f"门店{x}" for x in range(1, 51)]
    assert body["next_cursor"]
    assert page.text.count('class="qr-card"') == 24
    assert 'rel="next"' in page.text and "cursor=" in page.text
    assert await _code_count(state) == 50
    assert seen.most_params < LIMIT, seen.worst
    assert seen.count < 40, seen.count
    assert took < 10, took

    # And the next page continues where the first stopped
    second = await client.get(
        "/api/v1/payments/codes", params={"cursor": body["next_cursor"]}, headers=owner
    )
    assert [i["label"] for i in second.json()["items"]] == [f"门店{x}" for x in range(51, 101)]

    # And one store, or a name, finds its codes without walking the chain
    last = await client.get(
        "/api/v1/payments/codes", params={"store": f"st_scale{STORES}"}, headers=owner
    )
    assert [i["label"] for i in last.json()["items"]] == [f"门店{STORES}"]
    guide = await client.get("/api/v1/payments/codes", params={"store": "st_scale7"}, headers=owner)
    assert [i["label"] for i in guide.json()["items"]] == ["门店7", "门店7 · 导购7"]
    found = await client.get("/console/qrcodes", params={"q": "门店32999"}, headers=owner)
    assert found.text.count('class="qr-card"') == 1 and "门店32999" in found.text
    assert await _code_count(state) == 103  # 100 listed, 门店33000, 导购7, 门店32999


async def test_a_manager_of_many_stores_pages_their_codes(
    state: AppState, client: httpx.AsyncClient, backend: str
) -> None:
    # Given a store manager of 1,500 of the chain's stores (more than IN (...) may bind)
    tenant = await make_merchant(state)
    await _chain(state, backend, tenant, stores=MANAGED + 100)
    managed = await _store_ids(state, tenant, MANAGED)
    await make_staff(state, tenant, phone="13700000001", role="store_manager", store_ids=managed)
    manager = await token_for(client, tenant.slug, "13700000001")

    # When they walk to the guides' codes (after their 1,500 stores' codes)
    with counting_params(state) as seen:
        pages, cursor, labels = 0, None, []
        while True:
            params = {"limit": "200"} | ({"cursor": cursor} if cursor else {})
            got = await client.get("/api/v1/payments/codes", params=params, headers=manager)
            assert got.status_code == 200, got.text
            labels += [i["label"] for i in got.json()["items"]]
            pages, cursor = pages + 1, got.json()["next_cursor"]
            if cursor is None:
                break

    # Then they saw exactly their stores' codes and their guides', page by page
    assert pages == 14  # 1,500 stores + 1,200 guides of those stores, 200 a page
    assert labels[:2] == ["门店1", "门店2"] and labels[MANAGED] == "门店1 · 导购1"
    assert len(labels) == MANAGED + GUIDES
    assert seen.most_params < LIMIT, seen.worst
    # And another store's code is not theirs to see
    other = await client.get(
        "/api/v1/payments/codes", params={"store": f"st_scale{MANAGED + 1}"}, headers=manager
    )
    assert other.status_code == 404


async def test_a_bad_cursor_or_limit_is_refused_and_changes_nothing(
    state: AppState, client: httpx.AsyncClient
) -> None:
    tenant = await make_merchant(state)
    await make_staff(state, tenant)
    owner = await token_for(client, tenant.slug, "13800000001")
    for params in ({"cursor": "bm90LWEta2V5"}, {"cursor": "WzIsMV0"}, {"limit": "201"}):
        got = await client.get("/api/v1/payments/codes", params=params, headers=owner)
        assert got.status_code == 422, (params, got.text)
        assert got.headers["content-type"].startswith("application/problem+json")
    assert await _code_count(state) == 0
    async with UnitOfWork(state.read_factory) as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Staff)) == 1


async def test_a_store_or_guide_gets_one_active_code_however_often_it_is_made(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given a store and a guide of it
    tenant = await make_merchant(state)
    async with UnitOfWork(state.write_factory) as uow:
        now = clock.now()
        store = Store(
            merchant_id=tenant.id,
            public_id="st_one",
            code="S1",
            name="静安门店",
            created_at=now,
            updated_at=now,
        )
        uow.session.add(store)
        await uow.session.flush()
        store_id = store.id
        await uow.commit()
    guide = await make_staff(
        state, tenant, phone="13900000001", role="guide", name="小王", store_ids=(store_id,)
    )
    holders = [(store_id, None), (None, guide.staff_id)]

    # When two first views each make their codes (as racing requests would)
    async with UnitOfWork(state.write_factory) as uow:
        first = await codes.make_codes(uow.session, tenant, holders)
        await uow.commit()
    async with UnitOfWork(state.write_factory) as uow:
        second = await codes.make_codes(uow.session, tenant, holders)
        await uow.commit()

    # Then the second made nothing, and each holder has one code (the guide's credits the store)
    assert (first, second) == (2, 0)
    async with UnitOfWork(state.read_factory) as uow:
        rows = (
            await uow.session.execute(select(PaymentCode.store_id, PaymentCode.guide_staff_id))
        ).all()
    assert sorted(rows, key=str) == sorted([(store_id, None), (store_id, guide.staff_id)], key=str)
