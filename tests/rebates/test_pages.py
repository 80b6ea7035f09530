"""Commission pages through cookies and forms: the console's rules form (over 100 %
refused, nothing saved), ledger with filters, settling, distributors; a guide's own
earnings page; a distributor's earnings page in the mall with the application button."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from loopmall.core.clock import FrozenClock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import cookie_name, csrf_for, sandbox_login
from tests.catalog.conftest import console_login
from tests.rebates.fixtures import make_world

HTML = {"Accept": "text/html"}


def _text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)<', html, re.S)
    assert found, element_id
    return found[1].strip()


async def test_console_rules_ledger_and_settlement(
    state: AppState, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(datetime(2026, 4, 1, 4, tzinfo=UTC))
    w = await make_world(state, client)
    csrf = await console_login(client, "shop", "13800000001")

    page = await client.get("/console/commission", headers=HTML)
    assert page.status_code == 200
    assert "佣金规则" in page.text and 'id="no-entries"' in page.text

    over = await client.post(
        "/console/commission/rules",
        data={"store": "60", "guide": "40.01", "level1": "0", "level2": "0", "cap": "",
              "distributors": "everyone", "csrf_token": csrf},
    )  # fmt: skip
    assert over.status_code == 422
    assert "合计超过 100%" in _text(over.text, "commission-error")
    assert 'value="40.01"' in over.text  # what was typed stays in the form
    bad = await client.post("/console/commission/rules", data={"store": "abc", "csrf_token": csrf})
    assert bad.status_code == 422
    saved = await client.post(
        "/console/commission/rules",
        data={"store": "1", "guide": "2.5", "level1": "5", "level2": "0", "cap": "3",
              "distributors": "everyone", "csrf_token": csrf},
    )  # fmt: skip
    assert (saved.status_code, saved.headers["location"]) == (
        303,
        "/console/commission?notice=rules_saved",
    )
    rules = (await client.get("/api/v1/commission/rules", headers=w.owner)).json()
    assert (rules["store_bp"], rules["guide_bp"], rules["level1_bp"]) == (100, 250, 500)
    assert (rules["distributor_cap_fen"], rules["distributors"]) == (300, "everyone")

    order = await w.order()  # 9,900
    await w.credit(order, w.credits("store", "guide", "sharer"))
    page = await client.get("/console/commission", headers=HTML)
    # 9,900 × 1 % = 99; × 2.5 % = 247.5 → 248 (half up); × 5 % = 495, capped at 300.
    assert _text(page.text, "ledger-net") == "¥6.47"
    assert page.text.count('data-role="') == 3 and "小美" in page.text
    unsettled = re.search(r'<table id="unsettled">(.*?)</table>', page.text, re.S)
    assert unsettled is not None
    rows = re.findall(r'<td class="num net">(.*?)</td>', unsettled[1])
    assert rows == ["¥3.00", "¥2.48", "¥0.99"]  # largest first: what the next settlement pays
    only_guide = await client.get("/console/commission?role=guide", headers=HTML)
    assert only_guide.text.count('data-role="') == 1
    assert _text(only_guide.text, "ledger-net") == "¥2.48"
    assert 'href="/api/v1/commission/entries.csv?role=guide"' in only_guide.text
    exported = await client.get("/api/v1/commission/entries.csv?role=guide")  # the cookie
    assert exported.status_code == 200 and "小美" in exported.content.decode("utf-8-sig")

    frozen_clock.set(datetime(2026, 4, 2, 4, tzinfo=UTC))
    csrf = await console_login(client, "shop", "13800000001")  # the session lasts 12 hours
    settled = await client.post(
        "/console/commission/settlements", data={"through": "2026-04-01", "csrf_token": csrf}
    )
    assert settled.status_code == 303
    after = await client.get("/console/commission", headers=HTML)
    assert 'id="unsettled"' not in after.text
    detail = await client.get(settled.headers["location"], headers=HTML)
    assert detail.status_code == 200
    assert _text(detail.text, "settlement-total") == "¥6.47"
    assert "截至 2026-04-01" in detail.text
    future = await client.post(
        "/console/commission/settlements", data={"through": "2026-04-02", "csrf_token": csrf}
    )
    assert future.headers["location"] == "/console/commission?error=settlement_period_open"
    shown = await client.get(future.headers["location"], headers=HTML)
    assert _text(shown.text, "commission-error") == "该周期尚未结束。"
    no_csrf = await client.post("/console/commission/settlements", data={"through": "2026-04-01"})
    assert no_csrf.status_code == 403


async def test_a_guide_sees_their_own_earnings_page_only(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    await w.rules(store_bp=100, guide_bp=300)
    order = await w.order()
    await w.credit(order, w.credits("store", "guide"))
    await w.refund(order, 3_300)  # a third: 297 → 99 back

    await console_login(client, "shop", w.guide_phone)
    page = await client.get("/console/earnings", headers=HTML)
    assert page.status_code == 200
    assert _text(page.text, "earned-net") == "¥1.98"
    assert _text(page.text, "earned-pending") == "¥1.98"
    assert page.text.count("data-entry=") == 2  # the earning and its claw-back, not the store's
    assert "我的收益" in page.text
    assert (await client.get("/console/commission", headers=HTML)).status_code == 403


async def test_a_customer_applies_and_sees_their_distribution_earnings(
    state: AppState, client: httpx.AsyncClient
) -> None:
    w = await make_world(state, client)
    await w.rules(level1_bp=500)
    assert (await client.get("/m/shop/me/earnings")).headers["location"].startswith("/m/shop/login")
    async with UnitOfWork(state.write_factory) as uow:
        customer, token = await sandbox_login(
            uow.session, w.tenant, name="贝贝", phone="13900000002"
        )
        csrf = await csrf_for(uow.session, w.tenant, token)
        await uow.commit()
    client.cookies.set(cookie_name(state.settings, "shop"), token)

    page = await client.get("/m/shop/me/earnings", headers=HTML)
    assert page.status_code == 200 and 'id="apply"' in page.text
    applied = await client.post("/m/shop/me/distributor", data={"csrf_token": csrf})
    assert (applied.status_code, applied.headers["location"]) == (303, "/m/shop/me/earnings")
    page = await client.get("/m/shop/me/earnings", headers=HTML)
    assert _text(page.text, "distributor-status") == "你的申请正在等待店铺审核。"
    assert 'id="apply"' not in page.text

    r = await client.post(
        f"/api/v1/commission/distributors/{customer.public_id}/approve", headers=w.owner
    )
    assert r.status_code == 200
    order = await w.order()
    await w.credit(order, w.credits("sharer"))
    page = await client.get("/m/shop/me/earnings", headers=HTML)
    assert _text(page.text, "distributor-status").startswith("好友通过你的分享购买时")
    assert _text(page.text, "earned-net") == "¥4.95"
