"""Redirects to a target the request supplied go only to a path on this site (issue #11,
case 3): the console login (GET and POST), the mall's login forms and the share form."""

from __future__ import annotations

import re

import httpx
import pytest

from loopmall.core.redirects import is_safe_path, safe_path
from loopmall.core.state import AppState
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


@pytest.mark.parametrize("target", ["/m/acme//evil.example", "///evil.example/x", "/m/acme/\t"])
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
