"""A shopper on a phone goes from the mall to its stores and opens one: the list says which
stores are open now, the store page its week, its phone and its guide to chat with."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.stores import create_store
from tests.browser.conftest import LiveServer
from tests.factories import make_merchant, make_staff

pytestmark = pytest.mark.browser


async def _seed(state: AppState) -> dict[str, str]:
    tenant: Tenant = await make_merchant(state, "vero", "VERO")
    async with UnitOfWork(state.write_factory) as uow:
        always = await create_store(
            uow.session,
            tenant,
            code="SH1",
            name="人民广场店",
            city="上海",
            district="黄浦区",
            address="南京东路 1 号",
            phone="021-60000001",
            latitude=31.2304,
            longitude=121.4737,
            opening_hours="24h",
        )
        never = await create_store(
            uow.session, tenant, code="BJ1", name="西单店", city="北京", pickup_enabled=False
        )
        await uow.commit()
        ids = {"always": always.public_id, "never": never.public_id}
        store_id = always.id
    guide = await make_staff(
        state, tenant, phone="13800000011", role="guide", name="小王", store_ids=(store_id,)
    )
    return ids | {"guide": guide.public_id}


def test_from_the_mall_to_a_store(live_server: LiveServer, page: Page) -> None:
    # Given VERO with a store open around the clock (a guide works there) and one without hours
    seeded = live_server.run(_seed)

    # When a shopper signs in, opens "me", then the store list
    page.goto("/m/vero/me")
    page.wait_for_url(re.compile(r"/m/vero/login\?next="))
    page.fill("#sandbox-name", "小红")
    page.click("#sandbox-login")
    page.wait_for_url("**/m/vero/me")
    page.click("#stores-link")
    page.wait_for_url("**/m/vero/stores")

    # Then both stores are listed by name; the first is open now and offers pickup
    stores = page.locator("#stores > li")
    expect(stores).to_have_count(2)
    first = page.locator(f'li[data-store="{seeded["always"]}"]')
    expect(first.locator(".open-now")).to_have_text("营业中")
    expect(first).to_contain_text("自提")
    expect(first.get_by_role("link", name="地图")).to_have_attribute(
        "href", "https://uri.amap.com/marker?position=121.4737,31.2304"
    )

    # When the shopper searches for Beijing, then opens the list again and the first store
    page.fill("#store-q", "北京")
    page.get_by_role("button", name="查找").click()
    expect(page.locator("#stores > li")).to_have_count(1)
    expect(page.locator("#stores")).to_contain_text("西单店")
    page.goto("/m/vero/stores")
    first.get_by_role("link", name="人民广场店").click()

    # Then the store page has the week (today marked), the phone and the guide to chat with
    page.wait_for_url(f"**/m/vero/stores/{seeded['always']}")
    expect(page.locator("h1")).to_have_text("人民广场店")
    expect(page.locator("#store-week tr")).to_have_count(7)
    expect(page.locator("#store-week tr.today")).to_have_count(1)
    today = "周一 周二 周三 周四 周五 周六 周日".split()[clock.local(datetime.now(UTC)).weekday()]
    expect(page.locator("#store-week tr.today th")).to_have_text(today)
    expect(page.locator("#store-phone")).to_have_attribute("href", "tel:02160000001")
    expect(page.locator("#store-pickup")).to_be_visible()
    page.locator(f'#store-guides a[data-guide="{seeded["guide"]}"]').click()
    page.wait_for_url(f"**/m/vero/chat?guide={seeded['guide']}")
