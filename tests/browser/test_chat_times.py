"""Chat times are Shanghai time on every phone (issue #14 item 14): a customer whose phone
is set to New York sees the time of a message as every other time on the site shows it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.guides.models import ChatMessage
from loopmall.merchants.models import Store
from tests.browser.conftest import LiveServer, console_login
from tests.factories import MadeStaff, make_staff
from tests.storefront.seed import seed_mall

pytestmark = pytest.mark.browser

ASK = "周六下午有空试穿吗"


def _guide(live_server: LiveServer) -> MadeStaff:
    async def seed(state: AppState) -> MadeStaff:
        mall = await seed_mall(state)
        async with UnitOfWork(state.read_factory) as uow:
            store_id = await uow.session.scalar(select(Store.id).where(Store.code == "S1"))
        assert store_id is not None
        return await make_staff(
            state,
            mall.tenant,
            phone="13800000002",
            role="guide",
            name="小美",
            store_ids=(store_id,),
        )

    return live_server.run(seed)


def _shown_at(live_server: LiveServer) -> str:
    async def read(state: AppState) -> str:
        async with UnitOfWork(state.read_factory) as uow:
            at = await uow.session.scalar(select(ChatMessage.at).where(ChatMessage.body == ASK))
        assert at is not None
        return clock.local(at).strftime("%Y-%m-%d %H:%M")

    return live_server.run(read)


def test_chat_times_are_shanghai_time_on_a_phone_set_elsewhere(
    live_server: LiveServer, new_context: Any
) -> None:
    guide = _guide(live_server)
    customer = new_context(timezone_id="America/New_York").new_page()
    customer.goto(f"/m/vero/login?next=/m/vero/chat?guide={guide.public_id}")
    customer.fill("#sandbox-name", "小红")
    customer.click("#sandbox-login")
    customer.wait_for_url("**/m/vero/chat**")
    customer.fill("#chat-input", ASK)
    customer.click("#chat-send")
    customer.wait_for_selector(f".msg-text >> text={ASK}")
    expected = _shown_at(live_server)
    assert customer.inner_text(".msg-text .when") == expected
    # The guide's phone, also away from Shanghai, shows the same time.
    staff = new_context(timezone_id="Europe/London").new_page()
    console_login(staff, guide)
    staff.goto("/guide")
    staff.click(".conversation-link")
    staff.wait_for_selector(f".msg-text >> text={ASK}")
    assert staff.inner_text(".msg-text .when") == expected
