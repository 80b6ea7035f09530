"""The merchant connects its WeChat service account and sets a template in the console."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_connect_service_account_and_template(
    live_server: LiveServer, page: Any, login: Any
) -> None:
    owner = live_server.make_owner()
    login(page, owner)
    page.goto("/console/wechat")
    page.fill("#appid", "wxbrowser0000001")
    page.fill("#secret", "s" * 32)
    page.fill("#app-name-input", "Acme 服务号")
    page.click("#connect-app")
    page.wait_for_url("**/console/wechat?saved=1")
    assert page.locator("#app-appid").inner_text() == "wxbrowser0000001"
    assert "/api/v1/wechat/events/wxa_" in page.locator("#server-url").inner_text()
    assert len(page.locator("#server-token").inner_text()) == 32
    page.select_option("#topic", "order.ready_for_pickup")
    page.select_option("#channel", "wechat_template")
    page.fill("#template-id", "TPL-PICKUP")
    page.fill("#fields", "character_string1=number\nthing2=pickup_code")
    page.click("#save-template")
    page.wait_for_url("**/console/wechat?saved=1")
    row = page.locator("#template-list tbody tr").first
    assert "待提货" in row.inner_text() and "TPL-PICKUP" in row.inner_text()
    assert "thing2=pickup_code" in row.inner_text()
