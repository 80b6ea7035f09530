"""The mall's login pages over HTTP: sandbox, phone + SMS, WeChat OAuth through the
stand-in's authorize page, "me", logout; cookies, login CSRF and the ``next`` target."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx

from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import add_wechat_app, cookie_name
from loopmall.standins.sms import SmsStandin
from loopmall.standins.wechat_oa import WechatOAStandin
from tests.customers.consumer_fixtures import new_appid
from tests.factories import make_merchant

PHONE = "13812345678"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the form carries a CSRF token"
    return found.group(1)


async def test_login_page_and_sandbox_login(
    standin_settings: Settings, state: AppState, client: httpx.AsyncClient
) -> None:
    await make_merchant(state, "acme", "Acme 果园")
    r = await client.get("/m/acme/me")
    assert r.status_code == 303 and r.headers["location"] == "/m/acme/login?next=/m/acme/me"
    page = await client.get("/m/acme/login?next=/m/acme/cart")
    assert page.status_code == 200
    assert "登录 Acme 果园" in page.text and 'id="sandbox-form"' in page.text
    assert 'id="wechat-login"' not in page.text, "no WeChat account: no WeChat button"
    token = _csrf(page.text)
    # without the login CSRF token: refused
    r = await client.post("/m/acme/login/sandbox", data={"name": "阿花"})
    assert r.status_code == 403
    r = await client.post(
        "/m/acme/login/sandbox",
        data={"name": "阿花", "phone": "", "next": "/m/acme/cart", "csrf_token": token},
    )
    assert r.status_code == 303 and r.headers["location"] == "/m/acme/cart"
    assert cookie_name(state.settings, "acme") in r.cookies
    me = await client.get("/m/acme/me")
    assert me.status_code == 200 and "阿花" in me.text
    # logout needs the session's CSRF token
    r = await client.post("/m/acme/logout")
    assert r.status_code == 403
    r = await client.post("/m/acme/logout", data={"csrf_token": _csrf(me.text)})
    assert r.status_code == 303
    assert (await client.get("/m/acme/me")).status_code == 303


async def test_next_cannot_leave_the_mall(
    standin_settings: Settings, state: AppState, client: httpx.AsyncClient
) -> None:
    await make_merchant(state, "acme")
    for target in ("https://evil.example/", "//evil.example/x", "/m/other/cart", "/console"):
        page = await client.get("/m/acme/login", params={"next": target})
        r = await client.post(
            "/m/acme/login/sandbox",
            data={"name": "x", "next": target, "csrf_token": _csrf(page.text)},
        )
        assert r.headers["location"] == "/m/acme/me", target


async def test_sms_login_page(
    standin_settings: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    sms_standin: SmsStandin,
) -> None:
    await make_merchant(state, "acme")
    page = await client.get("/m/acme/login")
    token = _csrf(page.text)
    r = await client.post(
        "/m/acme/login/sms/code", data={"phone": "123", "csrf_token": token, "next": ""}
    )
    assert r.status_code == 422 and "11 位手机号" in r.text
    # every rendering of the form carries a fresh token (and cookie)
    r = await client.post(
        "/m/acme/login/sms/code", data={"phone": PHONE, "csrf_token": _csrf(r.text), "next": ""}
    )
    assert r.status_code == 200 and "验证码已发送" in r.text and f'value="{PHONE}"' in r.text
    code = sms_standin.last_code(PHONE)
    assert code is not None
    wrong = "999999" if code != "999999" else "111111"
    r = await client.post(
        "/m/acme/login/sms", data={"phone": PHONE, "code": wrong, "csrf_token": _csrf(r.text)}
    )
    assert r.status_code == 401 and "验证码错误" in r.text
    r = await client.post(
        "/m/acme/login/sms", data={"phone": PHONE, "code": code, "csrf_token": _csrf(r.text)}
    )
    assert r.status_code == 303, r.text
    me = await client.get("/m/acme/me")
    assert "138****5678" in me.text


async def test_wechat_login_through_the_authorize_page(
    standin_settings: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    oa_standin: WechatOAStandin,
) -> None:
    tenant = await make_merchant(state, "acme")
    appid, secret = new_appid()
    oa_standin.add_app(appid, secret, name="Acme 服务号", open_platform_id="op1")
    async with UnitOfWork(state.write_factory) as uow:
        await add_wechat_app(
            uow.session, tenant, appid=appid, secret=secret, open_platform_id="op1"
        )
        await uow.commit()
    page = await client.get("/m/acme/login?next=/m/acme/orders")
    assert 'id="wechat-login"' in page.text
    r = await client.get("/m/acme/login/wechat?scope=snsapi_userinfo&next=/m/acme/orders")
    assert r.status_code == 302
    authorize = r.headers["location"]
    assert authorize.startswith(f"{oa_standin.url}/connect/oauth2/authorize?")  # type: ignore[attr-defined]
    q = parse_qs(urlsplit(authorize).query)
    assert q["redirect_uri"] == ["http://testserver/m/acme/oauth/callback"]
    async with httpx.AsyncClient() as wechat:
        consent = await wechat.get(authorize.split("#")[0])
        assert consent.status_code == 200 and "允许" in consent.text
        back = await wechat.post(
            authorize.split("?")[0],
            data={**{k: v[0] for k, v in q.items()}, "user": "小李", "decision": "allow"},
        )
    callback = back.headers["location"]
    # another browser (no state cookie) cannot finish this login
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=client._transport.app),  # type: ignore[attr-defined]
        base_url="http://testserver",
    ) as stranger:
        r = await stranger.get(callback)
        assert r.status_code == 400
    r = await client.get(callback)
    assert r.status_code == 303 and r.headers["location"] == "/m/acme/orders"
    me = await client.get("/m/acme/me")
    assert "小李" in me.text
    # declining at WeChat comes back without a code
    r = await client.get("/m/acme/login/wechat?scope=snsapi_userinfo")
    q = parse_qs(urlsplit(r.headers["location"]).query)
    async with httpx.AsyncClient() as wechat:
        back = await wechat.post(
            r.headers["location"].split("?")[0],
            data={**{k: v[0] for k, v in q.items()}, "user": "小李", "decision": "deny"},
        )
    r = await client.get(back.headers["location"])
    assert r.status_code == 200 and "取消了微信登录" in r.text


async def test_inside_wechat_the_login_is_silent(
    standin_settings: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    oa_standin: WechatOAStandin,
) -> None:
    tenant = await make_merchant(state, "acme")
    appid, secret = new_appid()
    oa_standin.add_app(appid, secret)
    async with UnitOfWork(state.write_factory) as uow:
        await add_wechat_app(uow.session, tenant, appid=appid, secret=secret)
        await uow.commit()
    ua = {"User-Agent": "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"}
    r = await client.get("/m/acme/login?next=/m/acme/cart", headers=ua)
    assert r.status_code == 303
    assert r.headers["location"] == "/m/acme/login/wechat?scope=snsapi_base&next=/m/acme/cart"
    r = await client.get(r.headers["location"], headers=ua)
    async with httpx.AsyncClient(cookies={"wx_standin_user": "old-friend"}) as wechat:
        back = await wechat.get(r.headers["location"].split("#")[0])
    assert back.status_code == 302, "snsapi_base with a known WeChat user needs no tap"
    r = await client.get(back.headers["location"], headers=ua)
    assert r.status_code == 303 and r.headers["location"] == "/m/acme/cart"
    r = await client.get("/api/v1/mall/acme/auth/me")
    assert r.json()["openid"] == oa_standin.openid_for(appid, "old-friend")


async def test_me_page_adds_a_phone(
    standin_settings: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    sms_standin: SmsStandin,
) -> None:
    await make_merchant(state, "acme")
    page = await client.get("/m/acme/login")
    await client.post(
        "/m/acme/login/sandbox", data={"name": "无号", "csrf_token": _csrf(page.text)}
    )
    me = await client.get("/m/acme/me")
    assert 'id="bind-phone"' in me.text
    r = await client.post(
        "/m/acme/me/phone/code", data={"phone": PHONE, "csrf_token": _csrf(me.text)}
    )
    assert r.status_code == 200 and "验证码已发送" in r.text
    code = sms_standin.last_code(PHONE)
    r = await client.post(
        "/m/acme/me/phone", data={"phone": PHONE, "code": code, "csrf_token": _csrf(r.text)}
    )
    assert r.status_code == 303
    me = await client.get("/m/acme/me")
    assert "138****5678" in me.text and 'id="bind-phone"' not in me.text


async def test_wechat_down_during_the_callback(
    standin_settings: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    oa_standin: WechatOAStandin,
) -> None:
    tenant = await make_merchant(state, "acme")
    appid, secret = new_appid()
    oa_standin.add_app(appid, secret)
    async with UnitOfWork(state.write_factory) as uow:
        await add_wechat_app(uow.session, tenant, appid=appid, secret=secret)
        await uow.commit()
    r = await client.get("/m/acme/login/wechat?scope=snsapi_base")
    q = parse_qs(urlsplit(r.headers["location"]).query)
    code = oa_standin.issue_code(appid, "小周")
    oa_standin.outage = 1
    r = await client.get(f"/m/acme/oauth/callback?code={code}&state={q['state'][0]}")
    assert r.status_code == 502 and "微信登录失败" in r.text
    assert (await client.get("/m/acme/me")).status_code == 303
