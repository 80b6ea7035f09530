"""Test harness: every test gets a fresh database built by the migrations.

Backends are a fixture parameter: SQLite always; PostgreSQL (and Redis) when reachable —
``LOOPMALL_TEST_POSTGRES_URL`` / ``LOOPMALL_TEST_REDIS_URL``, defaulting to the local
services. With ``CI=true`` they are required: unreachable means the run fails.

Migrations run once per session into a template (a SQLite file that is copied per test;
a PostgreSQL database that is emptied per test, sequences and all), so "fresh" stays cheap.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from loopmall.app import create_app
from loopmall.config import Settings
from loopmall.core import clock, migrate
from loopmall.core.db import make_engine
from loopmall.core.state import AppState
from loopmall.flashsale import gate_db
from loopmall.identity import passwords
from tests.built_routes import share_built_routes

passwords.configure(time_cost=1, memory_cost_kib=1024)

PG_URL = os.environ.get(
    "LOOPMALL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("LOOPMALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


async def _pg_reachable(url: str) -> str | None:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()


async def _redis_reachable(url: str) -> str | None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        await client.ping()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await client.aclose()


_PG_PROBLEM = asyncio.run(_pg_reachable(PG_URL))
_REDIS_PROBLEM = asyncio.run(_redis_reachable(REDIS_URL))


def pytest_configure(config: pytest.Config) -> None:
    if IN_CI and _PG_PROBLEM:
        raise pytest.UsageError(f"CI=true but PostgreSQL is unreachable at {PG_URL}: {_PG_PROBLEM}")
    if IN_CI and _REDIS_PROBLEM:
        raise pytest.UsageError(
            f"CI=true but Redis is unreachable at {REDIS_URL}: {_REDIS_PROBLEM}"
        )


BACKENDS = ["sqlite", "postgres"]


def _pg_test_url() -> str:
    # One database per pytest process, so parallel runs never share one.
    base, _, _db = PG_URL.rpartition("/")
    return f"{base}/loopmall_test_{_worker()}_{os.getpid()}"


async def _recreate_pg_database(drop_only: bool = False) -> str:
    url = _pg_test_url()
    name = url.rpartition("/")[2]
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    async with admin.connect() as conn:
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        if not drop_only:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
            # A commit need not wait for its WAL to reach the disk: the tests never crash
            # the server, and every commit of the run saves an fsync.
            await conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    await admin.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    if _PG_PROBLEM:
        pytest.skip(f"PostgreSQL unreachable: {_PG_PROBLEM}")
    with ThreadPoolExecutor(max_workers=1) as pool:
        url = pool.submit(asyncio.run, _recreate_pg_database()).result()
    migrate.upgrade(url)
    yield url
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _recreate_pg_database(drop_only=True)).result()


# The statement that empties the test database between tests, built once per process
# from the migrated schema (``_pg_reset_sql``).
_PG_RESET: list[str] = []


async def _pg_reset_sql(conn: Any) -> str:
    """One server-side block that leaves every table empty and every sequence unused, as
    ``TRUNCATE … RESTART IDENTITY`` did, for a fraction of its cost: TRUNCATE makes new files
    for all ~70 tables and ~290 indexes every time (≈0.3 s idle, 1.5 s+ under a parallel run),
    while a test leaves rows in a handful of small tables. DELETE runs children before
    parents; a foreign-key cycle between tables would fall back to TRUNCATE."""
    tables = [
        r[0]
        for r in await conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version' ORDER BY tablename"
            )
        )
    ]
    edges = await conn.execute(
        text(
            "SELECT child.relname, parent.relname FROM pg_constraint c "
            "JOIN pg_class child ON child.oid = c.conrelid "
            "JOIN pg_class parent ON parent.oid = c.confrelid "
            "JOIN pg_namespace n ON n.oid = child.relnamespace "
            "WHERE c.contype = 'f' AND n.nspname = 'public'"
        )
    )
    children: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in edges:
        if child != parent and parent in children and child in children:
            children[parent].add(child)
    # Children first: a table is emptied once every table that references it is.
    order: list[str] = []
    done: set[str] = set()
    pending = list(tables)
    while pending:
        ready = [t for t in pending if children[t] <= done]
        if not ready:  # a cycle between tables: TRUNCATE copes with it
            quoted = ", ".join(f'"{t}"' for t in tables)
            return f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"
        order.extend(ready)
        done.update(ready)
        pending = [t for t in pending if t not in done]
    names = ", ".join(f"'{t}'" for t in order)
    return f"""
        DO $reset$
        DECLARE t text; s text;
        BEGIN
          FOREACH t IN ARRAY ARRAY[{names}]::text[] LOOP
            EXECUTE format('DELETE FROM %I', t);
          END LOOP;
          FOR s IN SELECT sequencename FROM pg_sequences
                   WHERE schemaname = 'public' AND last_value IS NOT NULL LOOP
            PERFORM setval(format('%I', s)::regclass, 1, false);
          END LOOP;
        END
        $reset$"""


async def _truncate_pg(url: str) -> None:
    """Empty the test database: no rows, sequences back to 1."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    async with engine.begin() as conn:
        if not _PG_RESET:
            _PG_RESET.append(await _pg_reset_sql(conn))
        await conn.execute(text(_PG_RESET[0]))
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database on each backend."""
    # Ids start again at 1 in every fresh database: what the process counts per sale id
    # (the database gate's attempts) must start again too, or a test sees the last one's.
    gate_db.ATTEMPTS.clear()
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "test.db"
        shutil.copyfile(template, target)
        return f"sqlite+aiosqlite:///{target}"
    url: str = request.getfixturevalue("pg_template")
    await _truncate_pg(url)
    return url


@pytest.fixture
def backend(db_url: str) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgres"


@pytest.fixture
def redis_url() -> str:
    """The test Redis; tests isolate themselves with ``redis_prefix``, never FLUSHDB."""
    if _REDIS_PROBLEM:
        pytest.skip(f"Redis unreachable: {_REDIS_PROBLEM}")
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    return f"lmtest:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=db_url,
        data_dir=tmp_path / "data",
        auto_migrate=False,
        run_background=False,
        secret_key="test-secret",
        sandbox_login=True,  # the tests log shoppers in with it (off by default)
        sandbox_payments=True,  # and pay with the sandbox's button
    )


@pytest.fixture
def frozen_clock() -> Iterator[clock.FrozenClock]:
    fake = clock.FrozenClock()
    previous = clock.install(fake)
    yield fake
    clock.install(previous)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    # The test's own app; only the build of its routes is shared (tests/built_routes.py).
    application = share_built_routes(create_app(settings))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def state(app: Any) -> AppState:
    st: AppState = app.state.loopmall
    return st


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
