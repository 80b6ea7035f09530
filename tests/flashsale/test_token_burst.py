"""The countdown's crowd: the token step reads almost nothing, and a database with no
connection to give answers 503 with Retry-After — on a page, an API route and the gate —
never a 500; three app processes answer a burst of shoppers without a 5xx (issue #21: 64
here, with pools small enough to run out; 256 at the default pools in
``python -m bench.flashsale.burst``)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from sqlalchemy import text
from sqlalchemy.engine import make_url

from loopmall.app import create_app, create_server_app
from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.db import make_engine
from loopmall.core.state import AppState
from loopmall.flashsale.tokens import issue_token
from tests.flashsale.fixtures import Sale, holders, make_sale
from tests.flashsale.test_kill_nine import wait_up
from tests.reads import reading

BURST = 64


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


async def test_three_app_processes_answer_a_burst_of_shoppers_without_a_5xx(
    db_url: str, settings: Settings, state: AppState, tmp_path: Path
) -> None:
    # Given three app processes with small pools (3 × (2 + 1) connections, waiting at most
    # two seconds) on a database that allows fewer (6 on PostgreSQL: the rest are refused
    # with "too many connections"), and 64 holders of a live sale — 64 at once is 7 times
    # what the pools hold, so they run out (the full 256 at default pools: the benchmark)
    sale = await make_sale(state)
    shoppers = await holders(state, sale, BURST)
    async with AsyncExitStack() as stack:
        url = db_url
        if not db_url.startswith("sqlite"):
            url = await stack.enter_async_context(limited_role(db_url, 6))
        statuses, retry_afters = await token_burst(url, settings, sale, shoppers, tmp_path)
    # Then nobody gets a 5xx but a 503 with Retry-After, and the others get their token
    print(f"token burst, 3 processes, {BURST} shoppers ({db_url.split(':')[0]}): {dict(statuses)}")
    assert set(statuses) <= {201, 503}, statuses
    assert retry_afters == {"1"} if statuses[503] else retry_afters == set()
    assert statuses[201] > 0


async def token_burst(
    db_url: str, settings: Settings, sale: Sale, shoppers: list[Any], logs: Path
) -> tuple[Counter[int], set[str | None]]:
    """Serve with three processes and let every shopper ask for a token at once: the
    answers' statuses, and the Retry-After headers of the 503s."""
    served = settings.model_copy(
        update={
            "database_url": db_url,
            "auto_migrate": False,
            "run_background": False,
            "db_pool_size": 2,
            "db_max_overflow": 1,
            "db_pool_timeout_seconds": 2.0,
        }
    )
    with socket.socket() as listening:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(("127.0.0.1", 0))
        listening.listen(512)
        base = f"http://127.0.0.1:{listening.getsockname()[1]}"
        children = [serve_forked(served, listening, logs / "serve.log") for _ in range(3)]
    try:
        await wait_up(base)
        limits = httpx.Limits(max_connections=len(shoppers))
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
            answers = await asyncio.gather(
                *(client.post(token_path(sale), headers=s.headers) for s in shoppers)
            )
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)
    busy = {a.headers.get("retry-after") for a in answers if a.status_code == 503}
    return Counter(a.status_code for a in answers), busy


def serve_forked(settings: Settings, listening: socket.socket, log: Path) -> int:
    """An app process forked from this one, serving on the shared socket (what ``loopmall
    serve --workers N`` runs, each process its own app and pools). Forked rather than
    spawned: this process has imported the app already, and a spawned worker importing it
    again takes most of a minute on a busy machine — the test would be its startup."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:  # the child: its own app, engines and event loop; never the parent's finalizers
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(out, 1)
        os.dup2(out, 2)
        config = uvicorn.Config(
            create_server_app(settings), http="httptools", access_log=False, log_level="warning"
        )
        uvicorn.Server(config).run(sockets=[listening])
        code = 0
    finally:
        os._exit(code)
