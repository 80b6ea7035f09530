"""The commission pages do no work proportional to the merchant (#11, chain scale): the
commission page and the ledger API read the kept balances and a page of lines — no
statement sums or groups the whole ledger, and the number of statements stays the same when
the ledger has 10× more lines and earners; the settlement page shows a page of its lines by
cursor with a search by earner, and its CSV is streamed in batches."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import event, insert, select

from loopmall.core.clock import FrozenClock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.rebates import api as commission_api
from loopmall.rebates import balances
from loopmall.rebates.models import CommissionEntry, Settlement, SettlementLine
from loopmall.rebates.pages import console as commission_pages
from tests.catalog.conftest import console_login
from tests.rebates.fixtures import World, make_world

HTML = {"Accept": "text/html"}
SETTLE = "/api/v1/commission/settlements"


@contextmanager
def counting(state: AppState) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            statements.append(" ".join(statement.split()))

    for engine in state.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        for engine in state.engines:
            event.remove(engine.sync_engine, "before_cursor_execute", before)


def _unbounded_ledger_reads(statements: list[str]) -> list[str]:
    """Statements reading the ledger's lines without a LIMIT (a sum or a group over all)."""
    return [s for s in statements if "FROM commission_entries" in s and "LIMIT" not in s]


_next = iter(range(10_000, 10**9))


async def grow_ledger(w: World, earners: int) -> None:
    """``earners`` more distributors with one earning each (rows written in bulk, around the
    ledger's functions), then the kept balances rebuilt from the ledger."""
    async with UnitOfWork(w.state.write_factory) as uow:
        order_id = await uow.session.scalar(
            select(CommissionEntry.order_id).where(CommissionEntry.merchant_id == w.tenant.id)
        )
        rows = []
        for _ in range(earners):
            n = next(_next)
            rows.append(
                {
                    "merchant_id": w.tenant.id,
                    "public_id": f"ce_bulk{n:012d}",
                    "kind": "earning",
                    "credit_id": n,
                    "order_id": order_id,
                    "role": "sharer",
                    "rule": "bulk",
                    "earner_kind": "customer",
                    "earner_id": n,
                    "store_id": None,
                    "base_fen": 10_000,
                    "rate_bp": 100,
                    "amount_fen": 100 + n % 7,
                    "at": datetime(2026, 3, 10, 3, tzinfo=UTC),
                }
            )
        await uow.session.execute(insert(CommissionEntry), rows)
        await balances.rebuild(uow.session, w.tenant)
        await uow.commit()


async def _world(state: AppState, client: httpx.AsyncClient, frozen_clock: FrozenClock) -> World:
    frozen_clock.set(datetime(2026, 3, 10, 4, tzinfo=UTC))
    w = await make_world(state, client)
    await w.rules(store_bp=100, guide_bp=1000)
    for _ in range(2):
        order = await w.order()
        await w.credit(order, w.credits("store", "guide"))
    await w.refund(order, 5000)
    return w


async def test_commission_page_and_ledger_api_do_not_read_the_whole_ledger(
    state: AppState, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    w = await _world(state, client, frozen_clock)
    await console_login(client, "shop", "13800000001")
    await grow_ledger(w, 20)

    async def read() -> tuple[list[str], list[str]]:
        with counting(state) as page:
            r = await client.get("/console/commission", headers=HTML)
            assert r.status_code == 200, r.text
        with counting(state) as api:
            r = await client.get("/api/v1/commission/entries", headers=w.owner)
            assert r.status_code == 200, r.text
        return page, api

    small_page, small_api = await read()
    await grow_ledger(w, 200)  # 10× the earners and lines
    latest = await w.order()  # the newest lines name a store and a guide again
    await w.credit(latest, w.credits("store", "guide"))
    big_page, big_api = await read()

    assert _unbounded_ledger_reads(big_page) == []
    assert _unbounded_ledger_reads(big_api) == []
    assert len(big_page) == len(small_page)
    assert len(big_api) == len(small_api)
    # and the totals beside the page are the ledger's
    body = (await client.get("/api/v1/commission/entries", headers=w.owner)).json()
    assert body["totals"]["entries"] == 4 + 2 + 220 + 2
    async with UnitOfWork(state.read_factory) as uow:
        assert await balances.reconcile(uow.session, w.tenant) == []


async def _settle_with_lines(w: World, client: httpx.AsyncClient, extra: int) -> str:
    """Settle the period, then give the settlement ``extra`` more lines (in bulk)."""
    made = await client.post(SETTLE, json={"through": "2026-03-10"}, headers=w.owner)
    assert made.status_code == 201, made.text
    public_id: str = made.json()["id"]
    async with UnitOfWork(w.state.write_factory) as uow:
        found = await uow.session.scalar(
            select(Settlement).where(Settlement.public_id == public_id)
        )
        assert found is not None
        rows = [
            {
                "merchant_id": w.tenant.id,
                "settlement_id": found.id,
                "earner_kind": "customer",
                "earner_id": 50_000 + i,
                "store_id": None,
                "entries": 1,
                "earned_fen": 100,
                "clawed_back_fen": 0,
                "net_fen": 100,
            }
            for i in range(extra)
        ]
        if rows:
            await uow.session.execute(insert(SettlementLine), rows)
        await uow.commit()
    return public_id


def _rows(page: str) -> list[str]:
    table = re.search(r'<table id="settlement-lines">(.*?)</table>', page, re.S)
    assert table is not None
    return re.findall(r'<tr data-earner="(.*?)"', table[1])


async def test_the_settlement_page_shows_a_page_of_lines_and_finds_an_earner(
    state: AppState,
    client: httpx.AsyncClient,
    frozen_clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = await _world(state, client, frozen_clock)
    frozen_clock.set(datetime(2026, 3, 11, 4, tzinfo=UTC))
    await console_login(client, "shop", "13800000001")
    settlement_id = await _settle_with_lines(w, client, extra=35)
    monkeypatch.setattr(commission_pages, "SETTLEMENT_PAGE", 10)
    url = f"/console/commission/settlements/{settlement_id}"

    # The first page: ten lines, the settlement's totals, a link to the next page
    with counting(state) as first_statements:
        first = await client.get(url, headers=HTML)
    assert first.status_code == 200, first.text
    assert len(_rows(first.text)) == 10
    assert "¥21.78" not in first.text  # no line total in the header: the settlement's own
    assert 'id="settlement-total"' in first.text
    seen = _rows(first.text)
    page = first
    while 'id="settlement-next"' in page.text:
        link = re.search(r'id="settlement-next" href="(.*?)"', page.text)
        assert link is not None
        page = await client.get(link[1].replace("&amp;", "&"), headers=HTML)
        assert page.status_code == 200, page.text
        seen += _rows(page.text)
    assert len(seen) == 37 and seen.count(w.guide_public_id) == 1  # each line once

    # Ten times the lines: the first page costs the same statements and shows ten
    async with UnitOfWork(state.write_factory) as uow:
        found = await uow.session.scalar(
            select(Settlement).where(Settlement.public_id == settlement_id)
        )
        assert found is not None
        more = [
            {"merchant_id": w.tenant.id, "settlement_id": found.id, "earner_kind": "customer",
             "earner_id": 90_000 + i, "store_id": None, "entries": 1, "earned_fen": 1,
             "clawed_back_fen": 0, "net_fen": 1}
            for i in range(350)
        ]  # fmt: skip
        await uow.session.execute(insert(SettlementLine), more)
        await uow.commit()
    with counting(state) as big_statements:
        big = await client.get(url, headers=HTML)
    assert len(_rows(big.text)) == 10
    assert len(big_statements) == len(first_statements)

    # One earner's line, by public id
    guide = await client.get(url, params={"earner": w.guide_public_id}, headers=HTML)
    assert guide.status_code == 200, guide.text
    assert _rows(guide.text) == [w.guide_public_id]
    assert 'id="settlement-next"' not in guide.text

    # Bad input is a clear error
    nobody = await client.get(url, params={"earner": "stf_nobody"}, headers=HTML)
    assert nobody.status_code == 404
    bad = await client.get(url, params={"cursor": "not-a-cursor"}, headers=HTML)
    assert bad.status_code == 422


async def test_the_settlement_csv_is_streamed_in_batches_with_every_line(
    state: AppState,
    client: httpx.AsyncClient,
    frozen_clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = await _world(state, client, frozen_clock)
    frozen_clock.set(datetime(2026, 3, 11, 4, tzinfo=UTC))
    settlement_id = await _settle_with_lines(w, client, extra=45)
    monkeypatch.setattr(commission_api, "CSV_BATCH", 10)

    chunks = []
    url = f"/api/v1/commission/settlements/{settlement_id}/csv"
    async with client.stream("GET", url, headers=w.owner) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        assert "content-length" not in r.headers  # sent as it is read, not built whole
        async for chunk in r.aiter_bytes():
            chunks.append(chunk)
    body = b"".join(chunks)
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][0] == "结算单 settlement"
    assert len(rows) == 1 + 47
    assert {row[0] for row in rows[1:]} == {settlement_id}
    assert sorted(row[3] for row in rows[1:] if row[2] != "customer") == ["小美", "门店 S001"]

    missing = await client.get("/api/v1/commission/settlements/cs_nothing/csv", headers=w.owner)
    assert missing.status_code == 404


async def test_the_ledger_csv_is_streamed_in_batches_up_to_the_export_limit(
    state: AppState,
    client: httpx.AsyncClient,
    frozen_clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = await _world(state, client, frozen_clock)  # 6 lines: 4 earnings, 2 claw-backs
    monkeypatch.setattr(commission_api, "CSV_BATCH", 4)

    async def export(**params: str) -> list[list[str]]:
        url = "/api/v1/commission/entries.csv"
        async with client.stream("GET", url, params=params, headers=w.owner) as r:
            assert r.status_code == 200
            assert "content-length" not in r.headers  # sent as it is read
            body = b"".join([chunk async for chunk in r.aiter_bytes()])
        assert body.startswith("\ufeff".encode())
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))

    everything = await export()
    assert everything[0][0] == "时间 time" and len(everything) == 1 + 6
    amounts = sorted(float(row[11]) for row in everything[1:])
    assert amounts == [-5.0, -0.5, 0.99, 0.99, 9.9, 9.9]
    assert len(await export(kind="clawback")) == 1 + 2
    monkeypatch.setattr(commission_api, "EXPORT_LIMIT", 5)
    assert len(await export()) == 1 + 5
    bad = await client.get("/api/v1/commission/entries.csv?kind=nope", headers=w.owner)
    assert bad.status_code == 422
