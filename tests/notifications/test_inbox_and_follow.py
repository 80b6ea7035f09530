"""The inbox (API and page), the follow invitation after a first payment, WeChat's follow
events on the server URL, the staff set-up of the account and templates, JS-SDK config."""

from __future__ import annotations

import hashlib
import re

import httpx

from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.customers.models import Customer
from loopmall.customers.service import cookie_name
from loopmall.integrations.wechat import jssdk_signature
from loopmall.standins.sms import SmsStandin
from loopmall.standins.wechat_oa import WechatOAStandin
from tests.factories import make_staff, token_for
from tests.notifications.helpers import (
    drain,
    make_person,
    make_shop,
    order_payload,
    publish_step,
    rows,
)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_inbox_api_unread_and_isolation(
    standin_settings: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    oa_standin: WechatOAStandin,
    sms_standin: SmsStandin,
) -> None:
    shop = await make_shop(state, oa_standin)
    alice = await make_person(state, shop, oa_standin, name="Alice")
    bob = await make_person(state, shop, oa_standin, name="Bob")
    for topic in ("order.created", "order.paid"):
        await publish_step(state, shop, topic, order_payload(shop, alice))
    await drain(state)
    r = await client.get("/api/v1/mall/acme/inbox", headers=_bearer(alice.token))
    assert r.status_code == 200
    body = r.json()
    assert body["unread"] == 2
    assert [i["topic"] for i in body["items"]] == ["order.paid", "order.created"]
    first = body["items"][0]["id"]
    # Bob sees nothing of Alice's, and cannot mark hers read
    r = await client.get("/api/v1/mall/acme/inbox", headers=_bearer(bob.token))
    assert r.json() == {"unread": 0, "items": []}
    r = await client.post(f"/api/v1/mall/acme/inbox/{first}/read", headers=_bearer(bob.token))
    assert r.status_code == 404
    r = await client.post(f"/api/v1/mall/acme/inbox/{first}/read", headers=_bearer(alice.token))
    assert r.status_code == 204
    r = await client.get("/api/v1/mall/acme/inbox", headers=_bearer(alice.token))
    assert r.json()["unread"] == 1
    assert (await client.get("/api/v1/mall/acme/inbox")).status_code == 401


async def test_inbox_page_and_follow_invitation(
    standin_settings: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    oa_standin: WechatOAStandin,
    sms_standin: SmsStandin,
) -> None:
    shop = await make_shop(state, oa_standin)
    person = await make_person(state, shop, oa_standin, name="Carol")
    client.cookies.set(cookie_name(state.settings, "acme"), person.token)
    assert (await client.get("/m/acme/follow-invite")).text == "", "no payment yet"
    payload = order_payload(shop, person)
    await publish_step(state, shop, "order.paid", payload)
    await drain(state)
    me = await client.get("/m/acme/me")
    assert 'id="unread-badge">1<' in me.text
    page = await client.get("/m/acme/inbox")
    assert page.status_code == 200
    assert "支付成功" in page.text and payload["number"] in page.text and "¥128.00" in page.text
    invite = await client.get("/m/acme/follow-invite")
    assert 'id="follow-invite"' in invite.text and "服务号" in invite.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    message_id = re.search(r"/inbox/(inb_[0-9a-z]+)/open", page.text)
    assert message_id is not None
    r = await client.post(
        f"/m/acme/inbox/{message_id.group(1)}/open", data={"csrf_token": csrf.group(1)}
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/m/acme/orders/{payload['order_public_id']}"
    assert 'id="inbox-unread"' not in (await client.get("/m/acme/inbox")).text
    # "Not now" hides the invitation
    r = await client.post("/m/acme/follow-invite/dismiss", data={"csrf_token": csrf.group(1)})
    assert r.status_code == 303
    assert (await client.get("/m/acme/follow-invite")).text == ""


async def test_follow_events_from_wechat(
    standin_settings: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    oa_standin: WechatOAStandin,
) -> None:
    shop = await make_shop(state, oa_standin)
    await make_staff(state, shop.tenant)
    staff = await token_for(client, "acme", "13800000001")
    [app] = (await client.get("/api/v1/wechat/apps", headers=staff)).json()
    assert app["appid"] == shop.appid and "secret" not in app
    oa_standin.apps[shop.appid].server_token = app["server_token"]
    person = await make_person(state, shop, oa_standin, name="Dan")
    assert person.openid is not None
    path = app["server_url"].removeprefix("http://testserver")
    # WeChat checks the server URL first
    query, body = oa_standin.build_event(shop.appid, person.openid, "subscribe")
    r = await client.get(path, params={**query, "echostr": "hello123"})
    assert r.status_code == 200 and r.text == "hello123"
    r = await client.post(path, params={**query, "signature": "0" * 40}, content=body)
    assert r.status_code == 403
    r = await client.post(path, params=query, content=body)
    assert r.status_code == 200 and r.text == "success"
    [customer] = await rows(state, Customer, id=person.customer_id)
    assert customer.followed and customer.followed_at is not None
    query, body = oa_standin.build_event(shop.appid, person.openid, "unsubscribe")
    await client.post(path, params=query, content=body)
    [customer] = await rows(state, Customer, id=person.customer_id)
    assert not customer.followed


async def test_staff_set_up_account_and_templates(
    standin_settings: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    oa_standin: WechatOAStandin,
) -> None:
    shop = await make_shop(state, oa_standin)
    await make_staff(state, shop.tenant)
    await make_staff(state, shop.tenant, phone="13800000002", role="guide", name="Guide")
    owner = await token_for(client, "acme", "13800000001")
    guide = await token_for(client, "acme", "13800000002")
    r = await client.post(
        "/api/v1/wechat/apps", json={"appid": shop.appid, "secret": "x" * 16}, headers=owner
    )
    assert r.status_code == 422, "already connected"
    body = {"template_id": "T1", "fields": {"character_string1": "number", "amount2": "amount"}}
    r = await client.put(
        "/api/v1/notifications/templates/order.paid/wechat_subscribe", json=body, headers=guide
    )
    assert r.status_code == 403
    r = await client.put(
        "/api/v1/notifications/templates/order.paid/wechat_subscribe", json=body, headers=owner
    )
    assert r.status_code == 200 and r.json()["template_id"] == "T1"
    bad = {"template_id": "T1", "fields": {"thing1": "password"}}
    r = await client.put(
        "/api/v1/notifications/templates/order.paid/wechat_subscribe", json=bad, headers=owner
    )
    assert r.status_code == 422
    r = await client.put(
        "/api/v1/notifications/templates/order.lost/wechat_subscribe", json=body, headers=owner
    )
    assert r.status_code == 422
    person = await make_person(state, shop, oa_standin)
    r = await client.post(
        "/api/v1/mall/acme/notifications/consents",
        json={"results": {"NOT_OURS": "accept"}},
        headers=_bearer(person.token),
    )
    assert r.status_code == 422


async def test_jssdk_config_is_signed_with_the_ticket(
    standin_settings: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    oa_standin: WechatOAStandin,
) -> None:
    shop = await make_shop(state, oa_standin)
    person = await make_person(state, shop, oa_standin)
    url = "http://testserver/m/acme/p/pr_1?from=share#top"
    r = await client.get(
        "/api/v1/mall/acme/wechat/jssdk-config", params={"url": url}, headers=_bearer(person.token)
    )
    assert r.status_code == 200, r.text
    cfg = r.json()
    ticket = oa_standin.tickets[shop.appid]
    expected = jssdk_signature(
        jsapi_ticket=ticket, noncestr=cfg["nonceStr"], timestamp=cfg["timestamp"], url=url
    )
    assert cfg["appId"] == shop.appid and cfg["signature"] == expected
    raw = (
        f"jsapi_ticket={ticket}&noncestr={cfg['nonceStr']}&timestamp={cfg['timestamp']}"
        "&url=http://testserver/m/acme/p/pr_1?from=share"
    )
    assert cfg["signature"] == hashlib.sha1(raw.encode()).hexdigest()
    r = await client.get(
        "/api/v1/mall/acme/wechat/jssdk-config",
        params={"url": "https://evil.example/"},
        headers=_bearer(person.token),
    )
    assert r.status_code == 422
