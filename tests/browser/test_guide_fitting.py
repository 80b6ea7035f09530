"""The guide workbench in two phone browsers (S0, VERO MODA): a customer asks for "a black
dress for a dinner, size M", the guide answers live, pushes a product card, the customer
picks it, the guide holds it in the store and books a fitting, the customer finds the
fitting in the inbox, and at the fitting the guide turns it into a store sale."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.inventory.models import StockLevel
from loopmall.merchants.models import Store
from loopmall.orders.models import Order
from tests.browser.conftest import LiveServer, console_login
from tests.factories import MadeStaff, make_staff
from tests.storefront.seed import Mall, seed_mall

pytestmark = pytest.mark.browser

ASK = "想要一条晚宴穿的黑色连衣裙，M码"
ANSWER = "有的，给您推荐一款，很适合晚宴"


def _seed(live_server: LiveServer) -> tuple[Mall, MadeStaff, MadeStaff]:
    async def seed(state: AppState) -> tuple[Mall, MadeStaff, MadeStaff]:
        mall = await seed_mall(state)
        async with UnitOfWork(state.read_factory) as uow:
            store_id = await uow.session.scalar(select(Store.id).where(Store.code == "S1"))
        assert store_id is not None
        guide = await make_staff(
            state,
            mall.tenant,
            phone="13800000002",
            role="guide",
            name="小美",
            store_ids=(store_id,),
        )
        cashier = await make_staff(
            state,
            mall.tenant,
            phone="13800000005",
            role="cashier",
            name="收银",
            store_ids=(store_id,),
        )
        return mall, guide, cashier

    return live_server.run(seed)


def _inbox_shows_fitting(page: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.goto("/m/vero/inbox")
        if page.locator('.inbox-item[data-topic="fitting.booked"]').count():
            return
        time.sleep(0.3)
    raise AssertionError("the fitting never reached the inbox")


def test_a_conversation_ends_in_a_hold_a_fitting_and_a_store_sale(
    live_server: LiveServer, new_context: Any
) -> None:
    mall, guide, cashier = _seed(live_server)
    camel_l = mall.skus["驼/L"]

    customer = new_context().new_page()
    customer.goto(f"/m/vero/login?next=/m/vero/chat?guide={guide.public_id}")
    customer.fill("#sandbox-name", "小红")
    customer.click("#sandbox-login")
    customer.wait_for_url("**/m/vero/chat**")
    assert customer.inner_text("#guide-name") == "小美"
    customer.wait_for_selector("body[data-live='1']")
    customer.fill("#chat-input", ASK)
    customer.click("#chat-send")
    customer.wait_for_selector(f".msg-text >> text={ASK}")

    staff = new_context().new_page()
    console_login(staff, guide)
    staff.goto("/guide")
    staff.click(".conversation-link")
    staff.wait_for_selector(f".msg-text >> text={ASK}")
    staff.wait_for_selector("body[data-live='1']")

    # The guide answers: the customer sees it live, without reloading.
    staff.fill("#chat-input", ANSWER)
    staff.click("#chat-send")
    customer.wait_for_selector(f".msg-text >> text={ANSWER}")

    # A product card, and the customer's pick of it, live both ways.
    staff.click("#cards-panel summary")
    staff.fill("#card-q", "大衣")
    staff.click("#card-search button[type=submit]")
    staff.click(f"button.push[data-sku='{camel_l}']")
    customer.wait_for_selector(".msg-card .card-title >> text=羊毛大衣")
    customer.click("button.pick")
    staff.wait_for_selector(".msg-pick >> text=我想试试这件")

    # Hold the picked item for two days, then book tomorrow 14:00 for it.
    staff.click("#hold-panel summary")
    staff.select_option("#hold-sku", camel_l)
    staff.fill("#hold-hours", "48")  # the merchant's maximum: past tomorrow 14:00 from any hour
    staff.click("#hold-submit")
    staff.wait_for_selector("#open-holds li.hold >> text=羊毛大衣")
    tomorrow = (clock.local(clock.now()) + timedelta(days=1)).date().isoformat()
    staff.click("#fitting-panel summary")
    staff.fill("#fitting-day", tomorrow)
    staff.dispatch_event("#fitting-day", "change")
    staff.wait_for_selector("#fitting-slot option >> text=14:00", state="attached")
    staff.select_option("#fitting-slot", label="14:00")
    staff.select_option("#fitting-hold", index=1)
    staff.click("#fitting-submit")
    staff.wait_for_selector("#booked-fittings li.fitting")
    assert "14:00" in staff.inner_text("#booked-fittings li.fitting")
    customer.wait_for_selector(".msg-fitting")

    # The customer finds the fitting in the inbox (through the running outbox).
    _inbox_shows_fitting(customer)
    assert "西单店" in customer.inner_text('.inbox-item[data-topic="fitting.booked"]')

    # At the fitting: the guide rings the sale up at the store's price (#11: no price from
    # the guide), and the cashier takes the money at the till.
    staff.click(".fitting-outcome[data-outcome='sold']")
    staff.wait_for_selector("#sale-done", state="visible")
    till = new_context().new_page()
    console_login(till, cashier)
    till.goto("/console/store-sales")
    till.fill(".till-amount", "599.00")
    till.click(".take-money")
    till.wait_for_url("**/console/store-sales?notice=paid")
    till.wait_for_selector("#no-store-sales")

    async def check(state: AppState) -> tuple[Any, ...]:
        async with UnitOfWork(state.read_factory) as uow:
            order = await uow.session.scalar(select(Order))
            assert order is not None
            level = (
                await uow.session.execute(
                    select(StockLevel.on_hand, StockLevel.held).where(StockLevel.held >= 0)
                )
            ).all()
            return order.kind, order.status, order.total_fen, order.guide_staff_id, sorted(level)

    kind, status, total, guide_id, levels = live_server.run(check)
    assert (kind, status, total, guide_id) == ("store_sale", "completed", 59900, guide.staff_id)
    assert levels == [(1, 0), (5, 0)]  # the store's camel L went from 2 to 1; nothing held
