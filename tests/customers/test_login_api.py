"""Consumer login over the API: phone + SMS code through the SMS stand-in, and WeChat web
OAuth 2.0 (snsapi_base / snsapi_userinfo) through the WeChat OA stand-in."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Customer
from loopmall.customers.service import add_wechat_app, get_customer
from loopmall.standins.sms import SmsStandin
from loopmall.standins.wechat_oa import WechatOAStandin
from tests.customers.consumer_fixtures import new_appid
from tests.factories import make_merchant

PHONE = "13912345678"


@pytest.fixture
def settings_(standin_settings: Settings) -> Settings:
    return standin_settings


async def _code(client: httpx.AsyncClient, slug: str, sms: SmsStandin, phone: str = PHONE) -> str:
    r = await client.post(f"/api/v1/mall/{slug}/auth/sms/code", json={"phone": phone})
    assert r.status_code == 202, r.text
    code = sms.last_code(phone)
    assert code is not None
    return code


async def test_sms_login(
    settings_: Settings, state: AppState, client: httpx.AsyncClient, sms_standin: SmsStandin
) -> None:
    await make_merchant(state, "acme", "Acme 果园")
    code = await _code(client, "acme", sms_standin)
    assert "Acme 果园" in sms_standin.messages(PHONE)[-1].text
    r = await client.post("/api/v1/mall/acme/auth/sms", json={"phone": PHONE, "code": code})
    assert r.status_code == 201, r.text
    token = r.json()["access_token"]
    me = await client.get("/api/v1/mall/acme/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["customer"] == r.json()["customer"]
    # a code is good once
    r = await client.post("/api/v1/mall/acme/auth/sms", json={"phone": PHONE, "code": code})
    assert r.status_code == 401 and r.json()["code"] == "invalid_sms_code"


async def test_sms_code_throttle_and_tries(
    settings_: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    sms_standin: SmsStandin,
    frozen_clock: Any,
) -> None:
    await make_merchant(state, "acme")
    code = await _code(client, "acme", sms_standin)
    r = await client.post("/api/v1/mall/acme/auth/sms/code", json={"phone": PHONE})
    assert r.status_code == 429 and r.json()["code"] == "sms_code_too_soon"
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        r = await client.post("/api/v1/mall/acme/auth/sms", json={"phone": PHONE, "code": wrong})
        assert r.status_code == 401
    # five wrong tries spend the code: even the right one is refused now
    r = await client.post("/api/v1/mall/acme/auth/sms", json={"phone": PHONE, "code": code})
    assert r.status_code == 401
    frozen_clock.advance(seconds=61)
    code = await _code(client, "acme", sms_standin)
    frozen_clock.advance(seconds=settings_.sms_code_ttl_seconds + 1)
    r = await client.post("/api/v1/mall/acme/auth/sms", json={"phone": PHONE, "code": code})
    assert r.status_code == 401, "an expired code is refused"


async def test_sms_gateway_down_is_502_and_bad_phone_422(
    settings_: Settings, state: AppState, client: httpx.AsyncClient, sms_standin: SmsStandin
) -> None:
    await make_merchant(state, "acme")
    sms_standin.outage = 1
    r = await client.post("/api/v1/mall/acme/auth/sms/code", json={"phone": PHONE})
    assert r.status_code == 502 and r.json()["code"] == "sms_failed"
    r = await client.post("/api/v1/mall/acme/auth/sms/code", json={"phone": "12345"})
    assert r.status_code == 422


async def _wechat_app(
    state: AppState, oa: WechatOAStandin, tenant: Tenant, platform: str | None
) -> str:
    appid, secret = new_appid()
    oa.add_app(appid, secret, open_platform_id=platform, name=tenant.slug)
    async with UnitOfWork(state.write_factory) as uow:
        await add_wechat_app(
            uow.session, tenant, appid=appid, secret=secret, open_platform_id=platform
        )
        await uow.commit()
    return appid


async def _wechat_login(
    client: httpx.AsyncClient, slug: str, user: str, scope: str = "snsapi_userinfo"
) -> httpx.Response:
    r = await client.post(
        f"/api/v1/mall/{slug}/auth/wechat/start",
        json={"redirect_uri": f"http://testserver/m/{slug}/oauth/callback", "scope": scope},
    )
    assert r.status_code == 201, r.text
    url = r.json()["authorize_url"]
    assert url.endswith("#wechat_redirect")
    q = parse_qs(urlsplit(url).query)
    assert q["response_type"] == ["code"] and q["scope"] == [scope]
    # The person's browser at WeChat: consents, and is sent back with code and state.
    async with httpx.AsyncClient() as browser:
        back = await browser.post(
            url.split("?")[0],
            data={**{k: v[0] for k, v in q.items()}, "user": user, "decision": "allow"},
        )
    assert back.status_code == 302
    answer = parse_qs(urlsplit(back.headers["location"]).query)
    assert answer["state"] == [r.json()["state"]]
    return await client.post(
        f"/api/v1/mall/{slug}/auth/wechat",
        json={"code": answer["code"][0], "state": answer["state"][0]},
    )


async def _customer(state: AppState, tenant: Tenant, public_id: str) -> Customer:
    from sqlalchemy import select

    async with UnitOfWork(state.read_factory) as uow:
        cid = await uow.session.scalar(select(Customer.id).where(Customer.public_id == public_id))
        assert cid is not None
        return await get_customer(uow.session, tenant, cid)


async def test_wechat_userinfo_login_and_unionid_across_a_merchants_apps(
    settings_: Settings, state: AppState, client: httpx.AsyncClient, oa_standin: WechatOAStandin
) -> None:
    acme = await make_merchant(state, "acme")
    outlet = await make_merchant(state, "outlet", "Outlet")
    other = await make_merchant(state, "other", "Other")
    # acme and outlet are one group: their accounts are bound to one Open Platform account
    acme_app = await _wechat_app(state, oa_standin, acme, "open_group")
    await _wechat_app(state, oa_standin, outlet, "open_group")
    other_app = await _wechat_app(state, oa_standin, other, "open_other")

    r = await _wechat_login(client, "acme", "小明")
    assert r.status_code == 201, r.text
    me = await client.get(
        "/api/v1/mall/acme/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.json()["name"] == "小明"
    assert me.json()["openid"] == oa_standin.openid_for(acme_app, "小明")
    a = await _customer(state, acme, r.json()["customer"])
    assert a.unionid == oa_standin.unionid_for(acme_app, "小明")

    b = await _customer(
        state, outlet, (await _wechat_login(client, "outlet", "小明")).json()["customer"]
    )
    c = await _customer(
        state, other, (await _wechat_login(client, "other", "小明")).json()["customer"]
    )
    assert b.consumer_id == a.consumer_id, "same unionid: the same person"
    assert b.openid != a.openid, "openids are per app"
    assert c.consumer_id != a.consumer_id, "another Open Platform account: not linkable"
    assert c.openid == oa_standin.openid_for(other_app, "小明")
    assert len({a.id, b.id, c.id}) == 3, "each merchant has its own customer"
    # logging in again finds the same customer
    again = await _wechat_login(client, "acme", "小明")
    assert again.json()["customer"] == a.public_id


async def test_wechat_base_scope_gives_openid_only(
    settings_: Settings, state: AppState, client: httpx.AsyncClient, oa_standin: WechatOAStandin
) -> None:
    acme = await make_merchant(state, "acme")
    appid = await _wechat_app(state, oa_standin, acme, "open_group")
    r = await _wechat_login(client, "acme", "小红", scope="snsapi_base")
    assert r.status_code == 201, r.text
    customer = await _customer(state, acme, r.json()["customer"])
    assert customer.openid == oa_standin.openid_for(appid, "小红")
    assert customer.unionid is None and customer.display_name == "微信用户"
    assert "/sns/userinfo" not in oa_standin.calls


async def test_wechat_state_and_code_misuse(
    settings_: Settings, state: AppState, client: httpx.AsyncClient, oa_standin: WechatOAStandin
) -> None:
    acme = await make_merchant(state, "acme")
    other = await make_merchant(state, "other", "Other")
    appid = await _wechat_app(state, oa_standin, acme, None)
    await _wechat_app(state, oa_standin, other, None)
    r = await client.post(
        "/api/v1/mall/acme/auth/wechat/start",
        json={"redirect_uri": "http://testserver/m/acme/oauth/callback", "scope": "snsapi_base"},
    )
    st = r.json()["state"]
    # a forged code
    r = await client.post("/api/v1/mall/acme/auth/wechat", json={"code": "forged", "state": st})
    assert r.status_code == 401 and r.json()["code"] == "wechat_code_invalid"
    code = oa_standin.issue_code(appid, "小刚")
    # a state of another mall, or a made-up one
    r = await client.post("/api/v1/mall/other/auth/wechat", json={"code": code, "state": st})
    assert r.status_code == 401 and r.json()["code"] == "oauth_state_invalid"
    r = await client.post("/api/v1/mall/acme/auth/wechat", json={"code": code, "state": "x"})
    assert r.status_code == 401
    r = await client.post("/api/v1/mall/acme/auth/wechat", json={"code": code, "state": st})
    assert r.status_code == 201
    # the state is spent, and so is the code
    r = await client.post("/api/v1/mall/acme/auth/wechat", json={"code": code, "state": st})
    assert r.status_code == 401 and r.json()["code"] == "oauth_state_invalid"


async def test_wechat_login_needs_an_account(
    settings_: Settings, state: AppState, client: httpx.AsyncClient
) -> None:
    await make_merchant(state, "acme")
    r = await client.post(
        "/api/v1/mall/acme/auth/wechat/start",
        json={"redirect_uri": "http://testserver/m/acme/oauth/callback", "scope": "snsapi_base"},
    )
    assert r.status_code == 422 and r.json()["code"] == "wechat_login_unavailable"


async def test_a_wechat_shopper_adds_a_phone(
    settings_: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    oa_standin: WechatOAStandin,
    sms_standin: SmsStandin,
) -> None:
    from loopmall.customers.models import Consumer

    acme = await make_merchant(state, "acme")
    await _wechat_app(state, oa_standin, acme, None)
    r = await _wechat_login(client, "acme", "阿强")
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await client.post("/api/v1/mall/acme/auth/phone/code", json={"phone": PHONE}, headers=auth)
    assert r.status_code == 202
    code = sms_standin.last_code(PHONE)
    assert code is not None
    r = await client.post(
        "/api/v1/mall/acme/auth/phone", json={"phone": PHONE, "code": "x" + code[1:]}, headers=auth
    )
    assert r.status_code == 401
    r = await client.post(
        "/api/v1/mall/acme/auth/phone", json={"phone": PHONE, "code": code}, headers=auth
    )
    assert r.status_code == 200, r.text
    customer = await _customer(state, acme, r.json()["customer"])
    assert customer.phone == PHONE
    async with UnitOfWork(state.read_factory) as uow:
        consumer = await uow.session.get(Consumer, customer.consumer_id)
        assert consumer is not None and consumer.phone == PHONE
    # the same number by SMS login is now the same person, as a customer of another mall
    other = await make_merchant(state, "other", "Other")
    code = await _code(client, "other", sms_standin)
    r = await client.post("/api/v1/mall/other/auth/sms", json={"phone": PHONE, "code": code})
    elsewhere = await _customer(state, other, r.json()["customer"])
    assert elsewhere.consumer_id == customer.consumer_id
    assert (
        await client.post("/api/v1/mall/acme/auth/phone/code", json={"phone": PHONE})
    ).status_code == 401


async def test_console_sender_in_dev(
    settings: Settings, state: AppState, client: httpx.AsyncClient
) -> None:
    from loopmall.integrations import sms

    assert settings.sms_base_url == ""
    sender = sms.sender_for(settings)
    assert isinstance(sender, sms.ConsoleSmsSender)
    await make_merchant(state, "acme")
    r = await client.post("/api/v1/mall/acme/auth/sms/code", json={"phone": "13511112222"})
    assert r.status_code == 202
    phone, text, _out_id = sender.sent[-1]
    assert phone == "13511112222" and "验证码" in text
    code = text.split("验证码 ")[1][:6]
    r = await client.post("/api/v1/mall/acme/auth/sms", json={"phone": phone, "code": code})
    assert r.status_code == 201
