"""The operators' console: sign in with email and password, read the dead letters, retry
one or the ticked ones with the session's CSRF token, and see what happened."""

from __future__ import annotations

import re

import httpx
import pytest

from loopmall.core.outbox import Dispatcher
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from tests.factories import PASSWORD, make_merchant, make_staff
from tests.merchants.conftest import console_login
from tests.operations import world
from tests.operations.world import FLAKY, OPERATOR_EMAIL, OpsPing

PAGE = "/platform/events/dead"
HTML = {"Accept": "text/html"}


@pytest.fixture(autouse=True)
def _reset() -> None:
    world.reset()


@pytest.fixture
async def acme(state: AppState) -> Tenant:
    return await make_merchant(state, "acme", "Acme")


async def operator_login(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    form = await client.get("/platform/login")
    assert form.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    return await client.post(
        "/platform/login",
        data={"email": OPERATOR_EMAIL, "password": password, "csrf_token": token[1]},
    )


def page_csrf(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found is not None and found[1]
    return found[1]


async def test_an_operator_signs_in_and_retries_one_delivery(
    state: AppState, client: httpx.AsyncClient, acme: Tenant
) -> None:
    await world.make_operator(state)
    dead, _other = await world.make_dead(
        state, OpsPing(merchant_id=acme.id, n=1), OpsPing(merchant_id=acme.id, n=2)
    )
    wrong = await operator_login(client, password="not-the-password")
    assert wrong.status_code == 401 and "邮箱或密码错误" in wrong.text
    r = await operator_login(client)
    assert (r.status_code, r.headers["location"]) == (303, PAGE)
    page = await client.get(PAGE, headers=HTML)
    assert page.status_code == 200
    assert "死信" in page.text  # Chinese first
    assert f'data-delivery="{dead.id}"' in page.text
    assert "RuntimeError: gateway refused ping 1" in page.text
    assert "<details>" in page.text and "in _flaky" in page.text
    csrf = page_csrf(page.text)

    # A POST without the session's CSRF token is refused and retries nothing.
    r = await client.post(f"{PAGE}/{dead.id}/retry", data={"subscriber": FLAKY})
    assert r.status_code == 403
    assert len(await world.deliveries(state, status="dead")) == 2

    world.gateway["down"] = False
    r = await client.post(
        f"{PAGE}/{dead.id}/retry", data={"csrf_token": csrf, "subscriber": FLAKY, "ids": "999"}
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"{PAGE}?subscriber={FLAKY}&retried=1&skipped=0"
    after = await client.get(r.headers["location"], headers=HTML)
    assert 'id="flash"' in after.text and "已重试 1 条投递" in after.text
    await Dispatcher(state.write_factory).run_once()
    assert world.delivered == [("acme", 1)]
    after = await client.get(PAGE, headers=HTML)
    assert f'data-delivery="{dead.id}"' not in after.text

    # The same button again: nothing to retry, and the page says so.
    r = await client.post(f"{PAGE}/{dead.id}/retry", data={"csrf_token": csrf})
    again = await client.get(r.headers["location"], headers=HTML)
    assert "flash warn" in again.text and "1 条已不是死信" in again.text


async def test_retry_selected(state: AppState, client: httpx.AsyncClient, acme: Tenant) -> None:
    await world.make_operator(state)
    a, b, c = await world.make_dead(state, *(OpsPing(merchant_id=acme.id, n=n) for n in (1, 2, 3)))
    await operator_login(client)
    csrf = page_csrf((await client.get(PAGE, headers=HTML)).text)
    world.gateway["down"] = False
    r = await client.post(
        f"{PAGE}/retry",
        data={"csrf_token": csrf, "ids": [str(a.id), str(c.id)], "merchant": "acme"},
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"{PAGE}?merchant=acme&retried=2&skipped=0"
    await Dispatcher(state.write_factory).drain()
    assert sorted(world.delivered) == [("acme", 1), ("acme", 3)]
    assert [d.id for d in await world.deliveries(state, status="dead")] == [b.id]
    r = await client.post(f"{PAGE}/retry", data={"csrf_token": csrf})
    nothing = await client.get(r.headers["location"], headers=HTML)
    assert "请至少选择一条投递再重试" in nothing.text


async def test_the_console_is_for_operators_only(
    state: AppState, client: httpx.AsyncClient, acme: Tenant
) -> None:
    [dead] = await world.make_dead(state, OpsPing(merchant_id=acme.id, n=1))
    r = await client.get(PAGE, headers=HTML)
    assert (r.status_code, r.headers["location"]) == (303, f"/platform/login?next={PAGE}")
    await make_staff(state, acme)
    csrf = await console_login(client, "acme", "13800000001")
    assert (await client.get(PAGE, headers=HTML)).status_code == 403
    r = await client.post(f"{PAGE}/{dead.id}/retry", data={"csrf_token": csrf})
    assert r.status_code == 403
    assert [d.id for d in await world.deliveries(state, status="dead")] == [dead.id]


async def test_an_operator_logs_out(state: AppState, client: httpx.AsyncClient) -> None:
    await world.make_operator(state)
    await operator_login(client)
    page = await client.get(PAGE, headers=HTML)
    assert page.status_code == 200
    r = await client.post("/platform/logout", data={"csrf_token": page_csrf(page.text)})
    assert (r.status_code, r.headers["location"]) == (303, "/platform/login")
    assert (await client.get(PAGE, headers=HTML)).status_code == 303


async def test_an_operator_at_the_merchant_console_is_sent_to_the_platform_console(
    state: AppState, client: httpx.AsyncClient
) -> None:
    await world.make_operator(state)
    await operator_login(client)
    r = await client.get("/console", headers=HTML)
    assert (r.status_code, r.headers["location"]) == (303, "/platform")
