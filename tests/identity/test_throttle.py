"""Login throttling: in the database (embedded) and in Redis (shared by every app process)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopmall.app import create_app
from loopmall.config import Settings
from loopmall.core.state import AppState
from tests.factories import PASSWORD, make_merchant, make_staff

HTML = {"Accept": "text/html"}
WRONG = {"merchant": "acme", "phone": "13800000001", "password": "wrong-password"}


async def fail_until_throttled(client: httpx.AsyncClient, failures: int) -> httpx.Response:
    for _ in range(failures):
        r = await client.post("/api/v1/auth/token", json=WRONG)
        assert (r.status_code, r.json()["code"]) == (401, "invalid_credentials")
    return await client.post("/api/v1/auth/token", json=WRONG | {"password": PASSWORD})


async def test_the_login_page_is_throttled_too(state: AppState, client: httpx.AsyncClient) -> None:
    tenant = await make_merchant(state, "acme")
    await make_staff(state, tenant)
    page = await client.get("/console/login")

    async def attempt(password: str) -> httpx.Response:
        # Every answer carries a fresh form token (and cookie), as a browser would resend.
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        data = WRONG | {"password": password, "csrf_token": token[1]}
        return await client.post("/console/login", data=data, headers=HTML)

    for _ in range(state.settings.login_max_failures):
        page = await attempt("wrong-password")
        assert page.status_code == 401
        assert "商户代码、手机号或密码不正确。" in page.text
    r = await attempt(PASSWORD)
    assert r.status_code == 429
    assert "登录失败次数过多，请等几分钟再试。" in r.text
    assert "lm_session" not in r.cookies


@pytest.fixture
def redis_settings(db_url: str, tmp_path: Path, redis_url: str, redis_prefix: str) -> Settings:
    return Settings(
        env="test",
        database_url=db_url,
        data_dir=tmp_path / "data",
        auto_migrate=False,
        run_background=False,
        secret_key="test-secret",
        redis_url=redis_url,
        redis_prefix=redis_prefix,
    )


@pytest.fixture
async def redis_app(redis_settings: Settings) -> AsyncIterator[Any]:
    application = create_app(redis_settings)
    async with application.router.lifespan_context(application):
        yield application
        redis = application.state.loopmall.redis
        keys = [k async for k in redis.scan_iter(f"{redis_settings.redis_prefix}*")]
        if keys:
            await redis.delete(*keys)


def client_for(application: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://testserver"
    )


async def test_redis_counts_failures_for_every_app_process(
    redis_app: Any, redis_settings: Settings
) -> None:
    state: AppState = redis_app.state.loopmall
    assert state.redis is not None
    tenant = await make_merchant(state, "acme")
    await make_staff(state, tenant)
    async with client_for(redis_app) as client:
        r = await fail_until_throttled(client, state.settings.login_max_failures)
    assert (r.status_code, r.json()["code"]) == (429, "login_throttled")
    assert int(r.headers["Retry-After"]) == state.settings.login_window_seconds
    key = f"{redis_settings.redis_prefix}login-fail:staff:acme:13800000001"
    assert await state.redis.get(key) == str(state.settings.login_max_failures)
    ttl = await state.redis.ttl(key)
    assert 0 < ttl <= state.settings.login_window_seconds

    # a second app process sharing the Redis refuses the account too
    second = create_app(redis_settings)
    async with second.router.lifespan_context(second), client_for(second) as other:
        r = await other.post("/api/v1/auth/token", json=WRONG | {"password": PASSWORD})
        assert (r.status_code, r.json()["code"]) == (429, "login_throttled")


async def test_a_good_login_clears_the_pairs_redis_counter(redis_app: Any) -> None:
    state: AppState = redis_app.state.loopmall
    tenant = await make_merchant(state, "acme")
    await make_staff(state, tenant)
    async with client_for(redis_app) as client:
        for _ in range(state.settings.login_max_failures - 1):
            assert (await client.post("/api/v1/auth/token", json=WRONG)).status_code == 401
        ok = await client.post("/api/v1/auth/token", json=WRONG | {"password": PASSWORD})
        assert ok.status_code == 201
        assert (await client.post("/api/v1/auth/token", json=WRONG)).status_code == 401
        again = await client.post("/api/v1/auth/token", json=WRONG | {"password": PASSWORD})
        assert again.status_code == 201
    # The account and this address are forgiven; the account's count across addresses
    # keeps the failures (its limit is far higher: nobody locks the owner out with it).
    key = f"{state.settings.redis_prefix}login-fail:staff:acme:13800000001"
    assert await state.redis.get(f"{key}@127.0.0.1") is None
    assert await state.redis.get(key) == str(state.settings.login_max_failures)
