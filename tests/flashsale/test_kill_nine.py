"""Kill -9 mid-sale, on both databases with Redis: of an app process serving the gate, and
of the stream consumer holding a batch it has not acknowledged. No accepted request is
lost, no unit is sold twice, and the sale finishes after the restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.flashsale.world import World, build_world
from sqlalchemy import func, select

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale.gate_redis import GROUP, RedisGate, SaleKeys
from loopmall.flashsale.models import FlashTicket
from loopmall.flashsale.reconcile import load_if_missing, reconcile
from loopmall.flashsale.tokens import issue_token
from loopmall.orders.models import Order

LOOPMALL = [sys.executable, "-c", "from loopmall.cli import app; app()"]
DEFINITIVE = {"accepted", "flash_already_bought", "flash_sold_out"}


@pytest.fixture
def env_settings(settings: Settings, redis_url: str, redis_prefix: str) -> Settings:
    return settings.model_copy(
        update={"redis_url": redis_url, "redis_prefix": redis_prefix, "flashsale_rate_per_ip": 0}
    )


@pytest.fixture
async def kstate(env_settings: Settings) -> Any:
    state = AppState.build(env_settings)
    yield state
    keys = [k async for k in state.redis.scan_iter(match=f"{env_settings.redis_prefix}*")]
    if keys:
        await state.redis.delete(*keys)
    await state.close()


class Children:
    def __init__(self, settings: Settings, logs: Path) -> None:
        self.env = dict(os.environ)
        self.env.update(
            {
                "LOOPMALL_DATABASE_URL": settings.database_url,
                "LOOPMALL_DATA_DIR": str(settings.data_dir),
                "LOOPMALL_SECRET_KEY": settings.secret_key,
                "LOOPMALL_REDIS_URL": str(settings.redis_url),
                "LOOPMALL_REDIS_PREFIX": settings.redis_prefix,
                "LOOPMALL_AUTO_MIGRATE": "false",
                "LOOPMALL_RUN_BACKGROUND": "false",
                "LOOPMALL_FLASHSALE_RATE_PER_IP": "0",
                "LOOPMALL_FLASHSALE_BATCH": "10",
            }
        )
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        out = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen([*LOOPMALL, *args], env=self.env, stdout=out, stderr=out)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@pytest.fixture
def children(env_settings: Settings, tmp_path: Path) -> Iterator[Children]:
    kids = Children(env_settings, tmp_path)
    yield kids
    kids.stop_all()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_up(base: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base) as c:
        while time.monotonic() < deadline:
            try:
                if (await c.get("/hello")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise AssertionError(f"{base} did not come up")


async def settled(state: AppState, world: World, timeout: float = 60.0) -> None:
    """Wait until every request Redis accepted has its ticket and order, none pending."""
    keys = SaleKeys(state.settings.redis_prefix, world.sale_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        accepted = await state.redis.hlen(keys.buyers)
        pending = (await state.redis.xpending(keys.stream, GROUP))["pending"]
        async with UnitOfWork(state.read_factory) as uow:
            made = await uow.session.scalar(
                select(func.count())
                .select_from(FlashTicket)
                .where(FlashTicket.sale_id == world.sale_id, FlashTicket.order_id.is_not(None))
            )
        if accepted and made == accepted and pending == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not settled: {accepted} accepted, {made} ordered, {pending} pending")


async def invariants(state: AppState, world: World, accepted: set[int]) -> None:
    async with UnitOfWork(state.read_factory) as uow:
        s = uow.session
        tickets = (
            await s.execute(
                select(FlashTicket.customer_id, FlashTicket.order_id).where(
                    FlashTicket.sale_id == world.sale_id
                )
            )
        ).all()
        orders = await s.scalar(
            select(func.count()).select_from(Order).where(Order.merchant_id == world.tenant.id)
        )
        report = await reconcile(
            s, world.tenant, world.sale_id, state.redis, state.settings.redis_prefix
        )
    buyers = [c for c, _o in tickets]
    assert len(buyers) == world.stock  # exactly the stock: no unit twice, none left unsold
    assert len(set(buyers)) == len(buyers)  # one per person
    assert accepted <= set(buyers)  # every "accepted" answer has its order
    assert all(o is not None for _c, o in tickets)
    assert orders == world.stock
    assert report.ok, report.problems


async def test_kill_nine_of_the_app_mid_sale(
    kstate: AppState, children: Children, env_settings: Settings
) -> None:
    """Given 120 holders and 50 units, an app process and a consumer, when the app is killed
    (SIGKILL) while the buyers are at the gate and started again, and every holder keeps
    trying until they get a definitive answer, then exactly 50 holders have an order each
    and every "accepted" answer is among them."""
    world = await build_world(kstate, holders=120, stock=50)
    await load_if_missing(kstate, world.tenant, world.sale_id)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = ("serve", "--port", str(port), "--no-access-log")
    app = children.start("app-1", *serve)
    children.start("consumer", "flashsale-consumer", "--name", "c1")
    await wait_up(base)
    accepted: set[int] = set()
    answers = 0
    seen: dict[str, int] = {}

    async def holder(client: httpx.AsyncClient, customer: int) -> None:
        nonlocal answers
        while True:
            token = issue_token(
                env_settings.secret_key,
                sale_id=world.sale_id,
                customer_id=customer,
                now=clock.now(),
            )
            try:
                r = await client.post(world.buy_path, json={"token": token}, timeout=5)
                answer = r.json().get("code") or r.json().get("status")
            except (httpx.HTTPError, ValueError):
                answer = "no answer"  # the app died under this request: try again
            answers += 1
            seen[answer] = seen.get(answer, 0) + 1
            if answer == "accepted":
                accepted.add(customer)
            if answer in DEFINITIVE:
                return
            await asyncio.sleep(0.5 if answer == "no answer" else 0.05)

    async with httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=20)) as c:
        buyers = asyncio.gather(*(holder(c, cid) for cid in world.customer_ids))
        while answers < 10 and not buyers.done():
            await asyncio.sleep(0.01)
        app.send_signal(signal.SIGKILL)
        app.wait()
        killed_after = len(accepted)
        children.start("app-2", *serve)
        await wait_up(base)
        await asyncio.wait_for(buyers, timeout=120)
    assert killed_after < world.stock  # the kill did land mid-sale
    await settled(kstate, world)
    await invariants(kstate, world, accepted)


async def test_kill_nine_of_the_consumer_mid_batch(
    kstate: AppState, children: Children, env_settings: Settings
) -> None:
    """Given 120 accepted requests in the stream, when the consumer is killed while it holds
    a batch it has not acknowledged, then another consumer takes that batch over and every
    request becomes exactly one order."""
    world = await build_world(kstate, holders=150, stock=120)
    await load_if_missing(kstate, world.tenant, world.sale_id)
    gate = RedisGate(kstate.redis, env_settings.redis_prefix)
    accepted = set()
    for cid in world.customer_ids:
        if (await gate.try_buy(world.sale_id, cid, f"n{cid}")).accepted:
            accepted.add(cid)
    assert len(accepted) == 120
    keys = SaleKeys(env_settings.redis_prefix, world.sale_id)
    first = children.start("consumer-1", "flashsale-consumer", "--name", "doomed")
    held = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not held:
        for c in await kstate.redis.xinfo_consumers(keys.stream, GROUP):
            if c["name"] == "doomed" and c["pending"] > 0:
                held = c["pending"]
        if not held:
            await asyncio.sleep(0.002)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert held > 0  # killed while holding unacknowledged entries
    children.start("consumer-2", "flashsale-consumer", "--name", "heir", "--claim-idle-ms", "500")
    await settled(kstate, world)
    left = {c["name"]: c["pending"] for c in await kstate.redis.xinfo_consumers(keys.stream, GROUP)}
    assert left.get("doomed", 0) == 0
    await invariants(kstate, world, accepted)
