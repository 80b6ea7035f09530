"""The inbox in a phone browser: an order step published by the shop reaches the shopper's
inbox through the running outbox; the unread badge, opening a message, mark all read."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from sqlalchemy import select

from loopmall.core.events import event_type
from loopmall.core.outbox import publish
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Customer
from loopmall.merchants.models import Merchant
from loopmall.orders import events as _order_events  # noqa: F401  (the order event types)
from tests.browser.conftest import LiveServer
from tests.factories import make_merchant

pytestmark = pytest.mark.browser


def _publish(live_server: LiveServer, topic: str, number: str) -> None:
    async def step(state: AppState) -> None:
        async with UnitOfWork(state.write_factory) as uow:
            merchant = await uow.session.scalar(select(Merchant).where(Merchant.slug == "acme"))
            assert merchant is not None
            customer = await uow.session.scalar(
                select(Customer).where(Customer.merchant_id == merchant.id)
            )
            assert customer is not None
            payload = {
                "merchant_id": merchant.id,
                "order_id": 1,
                "order_public_id": f"ord_{number}",
                "number": number,
                "customer_id": customer.id,
                "status": "paid",
                "total_fen": 3990,
                "kind": "mall",
                # the rest of the typed order event (orders/events.py): a paid delivery order
                "fulfilment": "delivery",
                "payment_method": "online",
                "store_id": None,
                "guide_staff_id": None,
                "paid_fen": 3990,
                "refunded_fen": 0,
            }
            if topic == "order.shipped":
                payload |= {"carrier": "顺丰", "tracking_no": "SF1000000001"}
            await publish(uow.session, event_type(topic).model_validate(payload))
            await uow.commit()

    live_server.run(step)


def _wait_for_badge(page: Any, count: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.goto("/m/acme/me")
        badge = page.locator("#unread-badge")
        if badge.count() and badge.inner_text() == count:
            return
        time.sleep(0.3)
    raise AssertionError(f"no unread badge {count}")


def test_order_steps_arrive_in_the_inbox(live_server: LiveServer, page: Any) -> None:
    async def seed(state: AppState) -> None:
        await make_merchant(state, "acme", "Acme 果园")

    live_server.run(seed)
    page.goto("/m/acme/login?next=/m/acme/inbox")
    page.click("#sandbox-login")
    page.wait_for_url("**/m/acme/inbox")
    assert "暂无消息" in page.content()
    _publish(live_server, "order.paid", "20261123000001")
    _publish(live_server, "order.shipped", "20261123000001")
    _wait_for_badge(page, "2")
    page.click("#inbox-link")
    page.wait_for_url("**/m/acme/inbox")
    assert page.locator("#inbox-unread").inner_text() == "2"
    items = page.locator(".inbox-item")
    assert items.count() == 2
    assert "订单已发货" in items.nth(0).inner_text()
    assert "支付成功" in items.nth(1).inner_text() and "¥39.90" in items.nth(1).inner_text()
    items.nth(1).locator("button").click()
    page.wait_for_url(re.compile(r"/m/acme/orders/ord_20261123000001$"))
    page.goto("/m/acme/inbox")
    assert page.locator("#inbox-unread").inner_text() == "1"
    page.click("#read-all")
    page.wait_for_url("**/m/acme/inbox")
    assert page.locator("#inbox-unread").count() == 0
    assert page.locator(".inbox-item.unread").count() == 0
