"""A hold leaves the guide's page when the till sells it (issue #14 item 11): it stayed
listed after the store sale that consumed it, until the guide reloaded the page."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import customer_for, new_consumer
from loopmall.guides import chat, holds
from loopmall.merchants.models import Store
from tests.browser.conftest import LiveServer, console_login
from tests.factories import MadeStaff, make_staff
from tests.storefront.seed import seed_mall

pytestmark = pytest.mark.browser


def _rung_up_hold(live_server: LiveServer) -> tuple[str, int, MadeStaff, MadeStaff]:
    """A conversation whose hold the guide has rung up: (conversation, total, guide, cashier)."""

    async def seed(state: AppState) -> tuple[str, int, MadeStaff, MadeStaff]:
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
            state, mall.tenant, phone="13800000005", role="cashier", store_ids=(store_id,)
        )
        async with UnitOfWork(state.write_factory) as uow:
            consumer = await new_consumer(uow.session, display_name="小红")
            customer = await customer_for(uow.session, mall.tenant, consumer, display_name="小红")
            talk = await chat.open_conversation(
                uow.session, mall.tenant, customer_id=customer.id, guide_staff_id=guide.staff_id
            )
            hold = await holds.place(
                uow.session,
                mall.tenant,
                guide_staff_id=guide.staff_id,
                customer_id=customer.id,
                store_id=store_id,
                sku_public_id=mall.skus["驼/L"],
                quantity=1,
                ttl_seconds=3600,
            )
            order = await holds.sell(uow.session, mall.tenant, hold, actor="guide")
            total = order.total_fen
            await uow.commit()
        return talk.public_id, total, guide, cashier

    return live_server.run(seed)


def test_a_hold_sold_at_the_till_leaves_the_guides_page_without_a_reload(
    live_server: LiveServer, new_context: Any
) -> None:
    conversation, total, guide, cashier = _rung_up_hold(live_server)
    staff = new_context().new_page()
    console_login(staff, guide)
    staff.goto(f"/guide/c/{conversation}")
    staff.wait_for_selector("#open-holds li.hold .hold-rung-up")

    till = new_context().new_page()
    console_login(till, cashier)
    till.goto("/console/store-sales")
    till.fill(".till-amount", f"{total / 100:.2f}")
    till.click(".take-money")
    till.wait_for_url("**/console/store-sales?notice=paid")

    # The guide's page, still open and never reloaded, drops the sold hold.
    staff.wait_for_selector("#open-holds li.hold", state="detached", timeout=12_000)
    assert staff.evaluate("performance.getEntriesByType('navigation').length") == 1
