"""Staff login throttling per account and address (issue #11, case 11), on SQLite and
PostgreSQL (the database counters) and with Redis (shared counters): an attacker who fails
from one address locks only that address out of the account — the owner still logs in from
another — while spraying many accounts from one address and a flood of parallel guesses
meet their limits exactly."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopmall.app import create_app
from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.identity.operators import create_operator
from loopmall.identity.throttle import DatabaseThrottle, Limit, RedisThrottle, Throttle
from tests.factories import PASSWORD, make_merchant, make_staff

OWNER = {"merchant": "acme", "phone": "13800000001"}
ATTACKER = "203.0.113.7"
OWNER_ADDRESS = "198.51.100.20"


def phone_at(app: Any, address: str) -> httpx.AsyncClient:
    """A client connecting from ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def login(client: httpx.AsyncClient, password: str, **extra: Any) -> httpx.Response:
    return await client.post("/api/v1/auth/token", json=OWNER | {"password": password}, **extra)


async def attacker_cannot_lock_the_owner_out(app: Any) -> None:
    state: AppState = app.state.loopmall
    limit = state.settings.login_max_failures
    tenant = await make_merchant(state, "acme")
    await make_staff(state, tenant)
    async with phone_at(app, ATTACKER) as attacker, phone_at(app, OWNER_ADDRESS) as owner:
        for _ in range(limit):
            assert (await login(attacker, "guess")).status_code == 401
        for _ in range(3):
            refused = await login(attacker, "guess")
            assert (refused.status_code, refused.json()["code"]) == (429, "login_throttled")

        mine = await login(owner, PASSWORD)

        assert mine.status_code == 201, mine.text
        # The attacker's address stays locked out of the account, even with the password,
        # and a made-up X-Forwarded-For does not make it another address.
        assert (await login(attacker, PASSWORD)).status_code == 429
        spoofed = await login(attacker, PASSWORD, headers={"X-Forwarded-For": OWNER_ADDRESS})
        assert spoofed.status_code == 429


async def test_an_attacker_cannot_lock_the_owner_out(app: Any) -> None:
    await attacker_cannot_lock_the_owner_out(app)


async def test_an_attacker_cannot_lock_an_operator_out(app: Any) -> None:
    """Platform operators are throttled the same way (their key was the email alone)."""
    state: AppState = app.state.loopmall
    async with UnitOfWork(state.write_factory) as uow:
        await create_operator(uow.session, email="ops@loopmall.test", name="Ops", password=PASSWORD)
        await uow.commit()
    url = "/api/v1/platform/auth/token"
    wrong = {"email": "ops@loopmall.test", "password": "guess"}
    async with phone_at(app, ATTACKER) as attacker, phone_at(app, OWNER_ADDRESS) as operator:
        for _ in range(state.settings.login_max_failures):
            assert (await attacker.post(url, json=wrong)).status_code == 401
        assert (await attacker.post(url, json=wrong)).status_code == 429

        mine = await operator.post(url, json=wrong | {"password": PASSWORD})

    assert mine.status_code == 201, mine.text


async def test_spraying_many_accounts_from_one_address_is_throttled(app: Any) -> None:
    state: AppState = app.state.loopmall
    await make_merchant(state, "acme")
    spray = state.settings.login_max_failures * 4
    async with phone_at(app, ATTACKER) as attacker:
        for i in range(spray):
            wrong = {"merchant": "acme", "phone": f"139{i:08d}", "password": "123456"}
            assert (await attacker.post("/api/v1/auth/token", json=wrong)).status_code == 401
        wrong = {"merchant": "acme", "phone": "13999999999", "password": "123456"}
        refused = await attacker.post("/api/v1/auth/token", json=wrong)
    assert (refused.status_code, refused.json()["code"]) == (429, "login_throttled")


async def test_thirty_parallel_guesses_check_exactly_the_limit(app: Any) -> None:
    """The failures are counted before the password is checked, atomically: a count read
    first and written after let every one of 30 parallel guesses through."""
    state: AppState = app.state.loopmall
    tenant = await make_merchant(state, "acme")
    await make_staff(state, tenant)
    async with phone_at(app, ATTACKER) as attacker:
        answers = await asyncio.gather(*(login(attacker, f"guess-{i}") for i in range(30)))
    assert Counter(a.status_code for a in answers) == {
        401: state.settings.login_max_failures,
        429: 30 - state.settings.login_max_failures,
    }


async def test_good_logins_from_one_address_never_add_up(app: Any) -> None:
    """A shop's staff behind one address log in all day: a good login gives its try back."""
    state: AppState = app.state.loopmall
    tenant = await make_merchant(state, "acme")
    await make_staff(state, tenant)
    async with phone_at(app, OWNER_ADDRESS) as shop:
        for _ in range(state.settings.login_max_failures * 4 + 2):
            assert (await login(shop, PASSWORD)).status_code == 201
        # A typo now and then is forgiven by the next good login of the pair.
        for _ in range(state.settings.login_max_failures - 1):
            assert (await login(shop, "typo")).status_code == 401
        assert (await login(shop, PASSWORD)).status_code == 201
        for _ in range(state.settings.login_max_failures - 1):
            assert (await login(shop, "typo")).status_code == 401
        assert (await login(shop, PASSWORD)).status_code == 201


async def three_limits(state: AppState, throttle: Throttle) -> None:
    pair, address, account = (
        Limit("staff:acme:1@A", 2),
        Limit("ip:A", 3),
        Limit("staff:acme:1", 4),
    )
    async with UnitOfWork(state.write_factory) as uow:
        session = uow.session
        assert await throttle.take(session, [pair, address, account]) is not None
        assert await throttle.take(session, [pair, address, account]) is not None
        # The pair is full: nothing more is counted against the others either.
        assert await throttle.take(session, [pair, address, account]) is None
        assert [await throttle.failures(session, k.key) for k in (pair, address, account)] == [
            2,
            2,
            2,
        ]
        other = Limit("staff:acme:2@A", 2)
        assert await throttle.take(session, [other, address, Limit("staff:acme:2", 4)])
        assert await throttle.take(session, [other, address, Limit("staff:acme:2", 4)]) is None
        # From another address the account is open until its own (higher) limit.
        taken = await throttle.take(
            session, [Limit("staff:acme:1@B", 2), Limit("ip:B", 3), account]
        )
        assert taken is not None
        await throttle.give_back(session, taken, clear="staff:acme:1@B")
        assert await throttle.failures(session, "staff:acme:1") == 2
        assert await throttle.failures(session, "ip:B") == 0
        for _ in range(2):
            assert await throttle.take(session, [Limit(f"x@{_}", 9), Limit("ip:C", 9), account])
        assert await throttle.take(session, [Limit("y@D", 9), Limit("ip:D", 9), account]) is None


async def test_the_three_limits_in_the_database(state: AppState) -> None:
    await three_limits(state, DatabaseThrottle(900))


# --- with Redis ------------------------------------------------------------------------


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


async def test_with_redis_an_attacker_cannot_lock_the_owner_out(redis_app: Any) -> None:
    await attacker_cannot_lock_the_owner_out(redis_app)


async def test_with_redis_thirty_parallel_guesses_check_exactly_the_limit(
    redis_app: Any,
) -> None:
    await test_thirty_parallel_guesses_check_exactly_the_limit(redis_app)


async def test_the_three_limits_in_redis(redis_app: Any, redis_settings: Settings) -> None:
    state: AppState = redis_app.state.loopmall
    await three_limits(state, RedisThrottle(state.redis, 900, redis_settings.redis_prefix))
