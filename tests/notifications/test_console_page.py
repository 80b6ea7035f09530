"""``/console/wechat``: connecting the service account and choosing templates per step."""

from __future__ import annotations

import httpx

from loopmall.core.state import AppState
from loopmall.notifications.models import MessageTemplate
from tests.factories import make_merchant, make_staff
from tests.merchants.conftest import console_login
from tests.notifications.helpers import rows


async def test_connect_account_and_save_a_template(
    state: AppState, client: httpx.AsyncClient
) -> None:
    tenant = await make_merchant(state, "acme")
    await make_staff(state, tenant)
    await make_staff(state, tenant, phone="13800000009", role="guide", name="Guide")
    csrf = await console_login(client, "acme", "13800000001")
    page = await client.get("/console/wechat")
    assert page.status_code == 200 and 'id="app-form"' in page.text
    r = await client.post(
        "/console/wechat/app",
        data={"appid": "wx bad", "secret": "short", "csrf_token": csrf},
    )
    assert r.status_code == 422 and 'id="wechat-error"' in r.text
    r = await client.post(
        "/console/wechat/app",
        data={
            "appid": "wxacme000000001",
            "secret": "s" * 32,
            "name": "Acme 服务号",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303
    page = await client.get("/console/wechat")
    assert "wxacme000000001" in page.text and "/api/v1/wechat/events/wxa_" in page.text
    assert "s" * 32 not in page.text, "the secret is never shown"
    r = await client.post(
        "/console/wechat/templates",
        data={
            "topic": "order.paid",
            "channel": "wechat_subscribe",
            "template_id": "TPL-PAID",
            "fields": "character_string1=number\namount2=amount\n",
            "enabled": "1",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303
    [tpl] = await rows(state, MessageTemplate)
    assert tpl.fields == {"character_string1": "number", "amount2": "amount"} and tpl.enabled
    r = await client.post(
        "/console/wechat/templates",
        data={"topic": "order.paid", "channel": "wechat_subscribe", "template_id": "X",
              "fields": "thing1 number", "csrf_token": csrf},
    )  # fmt: skip
    assert r.status_code == 422
    # a guide may look but not change
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")  # type: ignore[attr-defined]
    async with other:
        guide_csrf = await console_login(other, "acme", "13800000009")
        assert (await other.get("/console/wechat")).status_code == 403
        r = await other.post(
            "/console/wechat/templates",
            data={"topic": "order.paid", "channel": "wechat_subscribe", "template_id": "Y",
                  "fields": "a=number", "csrf_token": guide_csrf},
        )  # fmt: skip
        assert r.status_code == 403
