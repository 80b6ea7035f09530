"""Settlement per period: totals per earner, idempotent per period end (and per
Idempotency-Key), a claw-back after a settlement lands in the next one as a negative line,
periods in order only, none in the future; CSV exports with a BOM for Excel."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime

import httpx

from loopmall.core.clock import FrozenClock
from loopmall.core.state import AppState
from tests.factories import token_for
from tests.rebates.fixtures import make_world

SETTLE = "/api/v1/commission/settlements"


def _lines(body: dict) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {
        (line["earner"]["kind"], line["earner"]["name"]): (
            line["earned_fen"],
            line["clawed_back_fen"],
            line["net_fen"],
        )
        for line in body["lines"]
    }


async def test_settle_a_period_then_a_late_refund_lands_in_the_next(
    state: AppState, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(datetime(2026, 3, 10, 4, tzinfo=UTC))  # 12:00 in Shanghai
    w = await make_world(state, client)
    await w.rules(store_bp=100, guide_bp=1000)
    first = await w.order()
    second = await w.order()
    for o in (first, second):
        await w.credit(o, w.credits("store", "guide"))

    frozen_clock.set(datetime(2026, 3, 11, 4, tzinfo=UTC))
    future = await client.post(SETTLE, json={"through": "2026-03-11"}, headers=w.owner)
    assert (future.status_code, future.json()["code"]) == (422, "settlement_period_open")

    keyed = w.owner | {"Idempotency-Key": "march-10"}
    made = await client.post(SETTLE, json={"through": "2026-03-10"}, headers=keyed)
    assert made.status_code == 201, made.text
    march10 = made.json()
    assert _lines(march10) == {
        ("store", "门店 S001"): (198, 0, 198),
        ("staff", "小美"): (1980, 0, 1980),
    }
    assert (march10["entries"], march10["total_fen"]) == (4, 2178)
    replay = await client.post(SETTLE, json={"through": "2026-03-10"}, headers=keyed)
    assert replay.headers.get("idempotent-replayed") == "true"
    again = await client.post(SETTLE, json={"through": "2026-03-10"}, headers=w.owner)
    assert again.json()["id"] == march10["id"] == replay.json()["id"]
    assert (await w.entries(settled="false"))["items"] == []

    await w.refund(first, first.paid_fen)  # after the settlement: given back next period
    unsettled = await w.entries(settled="false")
    assert sorted(e["amount_fen"] for e in unsettled["items"]) == [-990, -99]

    frozen_clock.set(datetime(2026, 3, 12, 4, tzinfo=UTC))
    made = await client.post(SETTLE, json={"through": "2026-03-11"}, headers=w.owner)
    march11 = made.json()
    assert march11["period_start"] == march10["period_end"]
    assert (march11["entries"], march11["total_fen"]) == (2, -1089)
    assert sorted(line["net_fen"] for line in march11["lines"]) == [-990, -99]
    late = await client.post(SETTLE, json={"through": "2026-03-09"}, headers=w.owner)
    assert (late.status_code, late.json()["code"]) == (409, "settlement_out_of_order")

    listed = await client.get(SETTLE, headers=w.owner)
    assert [s["id"] for s in listed.json()] == [march11["id"], march10["id"]]
    in_march10 = await w.entries(settlement=march10["id"])
    assert in_march10["totals"]["net_fen"] == 2178

    guide = await token_for(client, "shop", w.guide_phone)
    mine = (await client.get("/api/v1/commission/me", headers=guide)).json()
    assert (mine["earned_fen"], mine["clawed_back_fen"], mine["net_fen"]) == (1980, 990, 990)
    assert (mine["settled_fen"], mine["pending_fen"]) == (990, 0)
    assert (
        await client.post(SETTLE, json={"through": "2026-03-11"}, headers=guide)
    ).status_code == 403

    exported = await client.get(f"{SETTLE}/{march11['id']}/csv", headers=w.owner)
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][0] == "结算单 settlement"
    assert sorted(r[-1] for r in rows[1:]) == ["-0.99", "-9.90"]
    assert "小美" in {r[3] for r in rows[1:]}


async def test_the_ledger_exports_as_csv_for_excel(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    await w.rules(guide_bp=1000, level1_bp=500, distributors="everyone")
    order = await w.order()
    await w.credit(order, w.credits("guide", "sharer"))
    await w.refund(order, 990)

    r = await client.get("/api/v1/commission/entries.csv", headers=w.owner)
    assert r.status_code == 200
    assert r.content[:3] == b"\xef\xbb\xbf"
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["时间 time", "订单号 order"]
    body = [(row[2], row[3], row[6], row[11]) for row in rows[1:]]
    assert body == [
        ("earning", "guide", "小美", "9.90"),
        ("earning", "sharer", "贝贝", "4.95"),
        ("clawback", "guide", "小美", "-0.99"),
        ("clawback", "sharer", "贝贝", "-0.50"),
    ]
    only = await client.get("/api/v1/commission/entries.csv?kind=clawback", headers=w.owner)
    assert len(list(csv.reader(io.StringIO(only.content.decode("utf-8-sig"))))) == 3


async def test_settling_one_period_at_once_twice_settles_it_once(
    state: AppState, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(datetime(2026, 5, 10, 4, tzinfo=UTC))
    w = await make_world(state, client)
    await w.rules(store_bp=100, guide_bp=1000)
    for _ in range(3):
        order = await w.order()
        await w.credit(order, w.credits("store", "guide"))
    frozen_clock.set(datetime(2026, 5, 11, 4, tzinfo=UTC))

    answers = await asyncio.gather(
        *(client.post(SETTLE, json={"through": "2026-05-10"}, headers=w.owner) for _ in range(4))
    )
    made = [a.json() for a in answers if a.status_code == 201]
    refused = [a.json()["code"] for a in answers if a.status_code != 201]
    assert made and set(refused) <= {"settlement_in_progress"}
    assert len({m["id"] for m in made}) == 1
    assert (made[0]["entries"], made[0]["total_fen"]) == (6, 3 * (99 + 990))
    listed = (await client.get(SETTLE, headers=w.owner)).json()
    assert [s["id"] for s in listed] == [made[0]["id"]]
    stamped = await w.entries(settlement=made[0]["id"])
    assert stamped["totals"]["entries"] == 6
