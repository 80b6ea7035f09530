"""Redirects to a target the request supplied go only to a path on this site (issue #11,
case 3): the console login (GET and POST), the mall's login forms and the share form; and
the WeChat OAuth start takes only a page of this mall as its ``redirect_uri`` (case 16)."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from loopmall.config import Settings
from loopmall.core.redirects import is_safe_path, safe_path
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import OAuthState
from loopmall.customers.service import add_wechat_app
from loopmall.standins.wechat_oa import WechatOAStandin
from tests.customers.consumer_fixtures import new_appid
from tests.factories import PASSWORD, make_merchant, make_staff

# Every one of these leaves the site (or is read differently by a browser than by us).
OFFSITE = [
    "//evil.example/x",
    "///evil.example/x",
    "////evil.example/x",
    "/\\evil.example/x",
    "\\\\evil.example/x",
    "\\/evil.example/x",
    "https://evil.example/x",
    "javascript:alert(1)",
    "evil.example/x",
    "/\t/evil.example/x",
    "/\n/evil.example/x",
    "/%0a\r\n/x",
    " /x",
    "/x\x00",
    "/\u200b/evil.example",
    "/\u3000/evil.example",
]


@pytest.mark.parametrize("target", OFFSITE)
def test_offsite_targets_fall_back_to_the_default(target: str) -> None:
    assert not is_safe_path(target)
    assert safe_path(target, "/console") == "/console"


@pytest.mark.parametrize(
    "target", ["/console", "/console/orders?status=paid", "/m/acme/p/1#top", "/m/acme//x"]
)
def test_paths_on_this_site_are_kept(target: str) -> None:
    assert safe_path(target, "/console") == target


def test_within_keeps_a_target_inside_its_prefix() -> None:
    assert safe_path("/m/acme/cart", "/m/acme/me", within="/m/acme/") == "/m/acme/cart"
    assert safe_path("/m/other/cart", "/m/acme/me", within="/m/acme/") == "/m/acme/me"
    assert safe_path("/m/acmeX/cart", "/m/acme/me", within="/m/acme/") == "/m/acme/me"
    assert safe_path(None, "/m/acme/me", within="/m/acme/") == "/m/acme/me"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the form carries a CSRF token"
    return found.group(1)


@pytest.mark.parametrize("target", ["///evil.example/x", "////evil.example/x", "/\\evil.x"])
async def test_console_login_never_redirects_off_site(
    state: AppState, client: httpx.AsyncClient, target: str
) -> None:
    tenant = await make_merchant(state, "acme")
    staff = await make_staff(state, tenant)
    page = await client.get("/console/login", params={"next": target})
    assert page.status_code == 200
    assert 'name="next" value="/console"' in page.text, "the form carries the safe target"
    r = await client.post(
        "/console/login",
        data={
            "merchant": "acme",
            "phone": staff.phone,
            "password": PASSWORD,
            "csrf_token": _csrf(page.text),
            "next": target,
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/console"
    # Logged in, the GET redirects at once: still not off site.
    r = await client.get("/console/login", params={"next": target})
    assert r.status_code == 303 and r.headers["location"] == "/console"
    r = await client.get("/console/login", params={"next": "/console/staff"})
    assert r.status_code == 303 and r.headers["location"] == "/console/staff"


@pytest.mark.parametrize("target", ["/m/acme//evil.example", "///evil.example/x", "/m/acme/\\x"])
async def test_mall_login_keeps_the_shopper_in_the_mall(
    state: AppState, client: httpx.AsyncClient, target: str
) -> None:
    await make_merchant(state, "acme")
    page = await client.get("/m/acme/login", params={"next": target})
    r = await client.post(
        "/m/acme/login/sandbox",
        data={"name": "x", "next": target, "csrf_token": _csrf(page.text)},
    )
    expected = target if target == "/m/acme//evil.example" else "/m/acme/me"
    assert r.status_code == 303 and r.headers["location"] == expected


async def test_share_form_sends_an_anonymous_visitor_to_login_within_the_mall(
    state: AppState, client: httpx.AsyncClient
) -> None:
    await make_merchant(state, "acme")
    for back, expected in (
        ("/m/acme/p/1", "/m/acme/login?next=/m/acme/p/1"),
        ("/m/other/p/1", "/m/acme/login?next=/m/acme/"),
        ("/m/acme/\\evil", "/m/acme/login?next=/m/acme/"),
    ):
        r = await client.post(
            "/m/acme/shares", data={"target_kind": "product", "target": "x", "back": back}
        )
        assert r.status_code == 303 and r.headers["location"] == expected, back


# --- the WeChat OAuth start (case 16) -------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/m/acme/oauth/callback",
        "http://testserver.evil.example/m/acme/oauth/callback",
        "http://testserver:8443/m/acme/oauth/callback",
        "https://testserver/m/acme/oauth/callback",
        "http://user@testserver/m/acme/oauth/callback",
        "http://testserver/m/other/oauth/callback",
        "http://testserver/console",
        "http://testserver//evil.example/m/acme/",
        "http://testserver/m/acme/\\x",
        "http://testserver/m/acme/oauth/callback#x",
    ],
)
async def test_wechat_start_takes_only_a_page_of_this_mall(
    standin_settings: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    oa_standin: WechatOAStandin,
    redirect_uri: str,
) -> None:
    tenant = await make_merchant(state, "acme")
    await make_merchant(state, "other")
    appid, secret = new_appid()
    oa_standin.add_app(appid, secret)
    async with UnitOfWork(state.write_factory) as uow:
        await add_wechat_app(uow.session, tenant, appid=appid, secret=secret)
        await uow.commit()

    r = await client.post(
        "/api/v1/mall/acme/auth/wechat/start",
        json={"redirect_uri": redirect_uri, "scope": "snsapi_base"},
    )

    assert r.status_code == 422 and r.json()["code"] == "redirect_uri_not_allowed"
    assert r.json()["field"] == "redirect_uri"
    async with UnitOfWork(state.read_factory) as uow:
        states = await uow.session.scalar(select(func.count()).select_from(OAuthState))
    assert states == 0, "no login was started"
    ok = await client.post(
        "/api/v1/mall/acme/auth/wechat/start",
        json={"redirect_uri": "http://testserver/m/acme/oauth/callback", "scope": "snsapi_base"},
    )
    assert ok.status_code == 201, ok.text
