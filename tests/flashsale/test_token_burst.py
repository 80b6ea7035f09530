"""The countdown's crowd: the token step reads almost nothing, and a database with no
connection to give answers 503 with Retry-After — on a page, an API route and the gate —
never a 500; three app processes answer a burst of 256 shoppers without a 5xx (issue #21)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from loopmall.app import create_app
from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.db import make_engine
from loopmall.core.state import AppState
from loopmall.flashsale.tokens import issue_token
from tests.flashsale.fixtures import Sale, holders, make_sale
from tests.flashsale.test_kill_nine import free_port, wait_up
from tests.reads import reading

LOOPMALL = [sys.executable, "-c", "from loopmall.cli import app; app()"]


def token_path(sale: Sale) -> str:
    return f"/api/v1/mall/{sale.tenant.slug}/flash/{sale.public_id}/token"


async def test_the_token_step_reads_only_the_shopper_and_one_reservation_probe(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given a live sale, a holder and a shopper without a reservation
    sale = await make_sale(state)
    holder, stranger = await holders(state, sale, 2)
    async with state.write_factory() as session:  # the stranger's reservation is withdrawn
        await session.execute(
            text("DELETE FROM flash_reservations WHERE customer_id = :c"),
            {"c": stranger.customer_id},
        )
        await session.commit()
    assert (await client.post(token_path(sale), headers=holder.headers)).status_code == 201
    # When both ask for a token again, with the sale in the process's cache
    with reading(state) as granted:
        ok = await client.post(token_path(sale), headers=holder.headers)
    with reading(state) as refused:
        no = await client.post(token_path(sale), headers=stranger.headers)
    # Then the holder gets one, the stranger is refused, and each read the shopper's
    # session and one reservation probe — not the sale, its units left or the ticket
    assert (ok.status_code, no.status_code, no.json()["code"]) == (201, 403, "flash_not_reserved")
    probes = [s for s in granted.statements if "flash_reservations" in s]
    assert len(probes) == 1
    assert not [s for s in granted.statements if "flash_sales" in s or "flash_buckets" in s]
    assert len(granted.statements) == len(refused.statements)
    # (the mall by slug, the shopper's session, the reservation)
    assert len(granted.statements) == 3, granted.statements


@asynccontextmanager
async def limited_role(db_url: str, connections: int) -> AsyncIterator[str]:
    """A PostgreSQL URL for a role made for the test, allowed ``connections`` at once (past
    them PostgreSQL answers "too many connections for role"), with the app's rights."""
    role = f"lm_busy_{uuid.uuid4().hex[:10]}"
    admin = make_engine(db_url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT {connections}"))
        await conn.execute(text(f"GRANT pg_read_all_data, pg_write_all_data TO {role}"))
    try:
        yield make_url(db_url).set(username=role).render_as_string(False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP ROLE {role}"))
        await admin.dispose()


@asynccontextmanager
async def database_refusing(db_url: str, settings: Settings) -> AsyncIterator[Settings]:
    """Settings whose database gives the app no connection: on PostgreSQL a role allowed
    one connection, which is held ("too many connections for role"); on SQLite a pool of
    one, held, with a short timeout (the pool's TimeoutError)."""
    if db_url.startswith("sqlite"):
        tiny = settings.model_copy(
            update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout_seconds": 0.2}
        )
        yield tiny
        return
    async with limited_role(db_url, 1) as url:
        parts = make_url(url)
        held = await asyncpg.connect(
            host=parts.host, port=parts.port, user=parts.username, database=parts.database
        )
        try:
            yield settings.model_copy(update={"database_url": url})
        finally:
            await held.close()


async def test_a_database_with_no_connection_to_give_answers_503_on_every_path(
    db_url: str, settings: Settings, state: AppState
) -> None:
    # Given a live sale with a holder and their sale token, made while the database was fine
    sale = await make_sale(state)
    (holder,) = await holders(state, sale, 1)
    token = issue_token(
        settings.secret_key, sale_id=sale.id, customer_id=holder.customer_id, now=clock.now()
    )
    async with database_refusing(db_url, settings) as refusing:
        app: Any = create_app(refusing)
        async with app.router.lifespan_context(app), AsyncExitStack() as held:
            if db_url.startswith("sqlite"):  # the pool's one connection, each held elsewhere
                for engine in app.state.loopmall.engines:
                    await held.enter_async_context(engine.connect())
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                # When a shopper opens a mall page, asks an API route and tries the gate
                page = await client.get(f"/m/{sale.tenant.slug}/", headers={"accept": "text/html"})
                api = await client.post(token_path(sale), headers=holder.headers)
                gate = await client.post(
                    f"/api/v1/mall/{sale.tenant.slug}/flash/{sale.public_id}/buy",
                    json={"token": token},
                )
    # Then each is told to come back in a second, never a 500
    for answer in (page, api, gate):
        assert (answer.status_code, answer.headers.get("retry-after")) == (503, "1")
    assert page.headers["content-type"].startswith("text/html")
    assert "当前抢购人数太多" in page.text and "再试一次" in page.text
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["code"] == "server_busy"
    assert gate.json()["code"] == "flash_busy"


async def test_three_app_processes_answer_a_burst_of_256_shoppers_without_a_5xx(
    db_url: str, settings: Settings, state: AppState, tmp_path: Path
) -> None:
    # Given three app processes with small pools (3 × (2 + 1) connections, waiting at most
    # two seconds) on a database that allows fewer (6 on PostgreSQL: the rest are refused
    # with "too many connections"), and 256 holders of a live sale
    sale = await make_sale(state)
    shoppers = await holders(state, sale, 256)
    async with AsyncExitStack() as stack:
        url = db_url
        if not db_url.startswith("sqlite"):
            url = await stack.enter_async_context(limited_role(db_url, 6))
        statuses, retry_afters = await token_burst(url, settings, sale, shoppers, tmp_path)
    # Then nobody gets a 5xx but a 503 with Retry-After, and the others get their token
    print(f"token burst, 3 processes, 256 shoppers ({db_url.split(':')[0]}): {dict(statuses)}")
    assert set(statuses) <= {201, 503}, statuses
    assert retry_afters == {"1"} if statuses[503] else retry_afters == set()
    assert statuses[201] > 0


async def token_burst(
    db_url: str, settings: Settings, sale: Sale, shoppers: list[Any], logs: Path
) -> tuple[Counter[int], set[str | None]]:
    """Serve with three processes and let every shopper ask for a token at once: the
    answers' statuses, and the Retry-After headers of the 503s."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "LOOPMALL_DATABASE_URL": db_url,
            "LOOPMALL_DATA_DIR": str(settings.data_dir),
            "LOOPMALL_SECRET_KEY": settings.secret_key,
            "LOOPMALL_AUTO_MIGRATE": "false",
            "LOOPMALL_RUN_BACKGROUND": "false",
            "LOOPMALL_DB_POOL_SIZE": "2",
            "LOOPMALL_DB_MAX_OVERFLOW": "1",
            "LOOPMALL_DB_POOL_TIMEOUT_SECONDS": "2",
        }
    )
    log = (logs / "serve.log").open("ab")
    serve = [*LOOPMALL, "serve", "--port", str(port), "--workers", "3", "--no-access-log"]
    server = subprocess.Popen(serve, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_up(base)
        limits = httpx.Limits(max_connections=256)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
            answers = await asyncio.gather(
                *(client.post(token_path(sale), headers=s.headers) for s in shoppers)
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    busy = {a.headers.get("retry-after") for a in answers if a.status_code == 503}
    return Counter(a.status_code for a in answers), busy
