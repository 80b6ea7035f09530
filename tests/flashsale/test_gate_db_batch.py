"""The database gate in batches (``gate_db.try_buy_many``, ``gate_db.Batcher``) answers every
attempt as the one-at-a-time gate (``gate_db.try_buy``) answers the same attempts in the same
order, and leaves the same rows behind (both backends)."""

from __future__ import annotations

import asyncio
import random
import secrets
import time

import httpx
import pytest
from sqlalchemy import func, select, update

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.errors import LoopmallError
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale import gate_db, tokens
from loopmall.flashsale.buckets import give_units
from loopmall.flashsale.models import FlashBucket, FlashTicket, FlashUsedToken
from loopmall.flashsale.repository import get_sale_by_id
from tests.flashsale.fixtures import Sale, holders, make_sale, remaining
from tests.orders.fixtures import login_shopper

UNITS = 5


@pytest.fixture(autouse=True)
def no_rate_windows(settings: Settings) -> None:
    """The rate windows turn with the clock's second: off, so that both runs see the same
    (and one test client is one IP)."""
    settings.flashsale_rate_per_consumer = 0
    settings.flashsale_rate_per_ip = 0


async def crowd(state: AppState, slug: str) -> tuple[Sale, list[int]]:
    """A sale of UNITS and 16 customers, the first 12 of them holders."""
    sale = await make_sale(state, units=UNITS, slug=slug)
    reserved = [s.customer_id for s in await holders(state, sale, 12, prefix=f"{slug}买家")]
    strangers = [
        (await login_shopper(state, sale.tenant, f"{slug}路人{i}")).customer_id for i in range(4)
    ]
    return sale, reserved + strangers


def script(seed: int) -> list[tuple[int, int]]:
    """Attempts as (customer index, nonce index): double clicks (the same nonce twice in a
    row), retries with fresh nonces, a nonce used again by another customer, strangers; no
    customer more than 4 times."""
    rng = random.Random(seed)
    # Holder 0 buys, holder 1 tries holder 0's token: spent.
    steps: list[tuple[int, int]] = [(0, 1000 + seed), (1, 1000 + seed)]
    per: dict[int, int] = {0: 1, 1: 1}
    nonce = 0
    while len(steps) < 40:
        who = rng.randrange(16)
        if per.get(who, 0) >= 4:
            if all(per.get(c, 0) >= 4 for c in range(16)):
                break
            continue
        roll = rng.random()
        if roll < 0.15 and steps:
            steps.append((who, steps[-1][1]))  # someone replays the last nonce
        else:
            nonce += 1
            steps.append((who, nonce))
            if roll > 0.8 and per.get(who, 0) < 3:
                steps.append((who, nonce))  # a double click
                per[who] = per.get(who, 0) + 1
        per[who] = per.get(who, 0) + 1
    return steps


def shape(outcome: gate_db.GateAnswer | LoopmallError, sale: Sale) -> str:
    if isinstance(outcome, gate_db.GateAnswer):
        return "accepted " + outcome.request_id.removeprefix(f"fs{sale.id}-")
    return outcome.code


async def rows_left(state: AppState, sale: Sale) -> tuple[int, int, int]:
    async with UnitOfWork(state.read_factory) as uow:
        n_tickets = await uow.session.scalar(
            select(func.count()).where(FlashTicket.sale_id == sale.id)
        )
        n_tokens = await uow.session.scalar(
            select(func.count()).where(FlashUsedToken.sale_id == sale.id)
        )
    return int(n_tickets or 0), int(n_tokens or 0), await remaining(state, sale)


async def test_a_batch_answers_as_one_at_a_time_would(state: AppState) -> None:
    one_sale, one_crowd = await crowd(state, "one")
    many_sale, many_crowd = await crowd(state, "many")
    kinds: set[str] = set()
    for seed in (1, 2):
        steps = script(seed)
        # A nonce is unique across merchants (the table's key): each sale its own.
        nonces = {n: f"s{seed}n{n}".ljust(24, "x") for _c, n in steps}
        many_nonces = {n: f"m{seed}n{n}".ljust(24, "x") for _c, n in steps}

        one_by_one: list[str] = []
        for who, n in steps:
            async with UnitOfWork(state.write_factory) as uow:
                sale_row = await get_sale_by_id(uow.session, one_sale.tenant, one_sale.id)
                try:
                    got = await gate_db.try_buy(
                        uow.session, one_sale.tenant, sale_row, one_crowd[who], nonce=nonces[n]
                    )
                    await uow.commit()
                    outcome: gate_db.GateAnswer | LoopmallError = got
                except LoopmallError as exc:  # a refusal rolls back
                    outcome = exc
            one_by_one.append(shape(outcome, one_sale).replace(str(one_crowd[who]), f"#{who}"))

        async with UnitOfWork(state.write_factory) as uow:
            sale_row = await get_sale_by_id(uow.session, many_sale.tenant, many_sale.id)
            outcomes = await gate_db.try_buy_many(
                uow.session,
                many_sale.tenant,
                sale_row,
                [gate_db.Attempt(many_crowd[who], many_nonces[n]) for who, n in steps],
            )
            await uow.commit()
        batched = [
            shape(o, many_sale).replace(str(many_crowd[who]), f"#{who}")
            for o, (who, _n) in zip(outcomes, steps, strict=True)
        ]
        assert batched == one_by_one
        assert await rows_left(state, many_sale) == await rows_left(state, one_sale)
        kinds |= {a.split(" ")[0] for a in one_by_one}
    # The scripts did reach every kind of answer the gate gives, and sold out.
    assert kinds == {
        "accepted",
        "flash_not_reserved",
        "flash_already_bought",
        "flash_sold_out",
        "flash_token_used",
    }
    assert (await rows_left(state, one_sale))[2] == 0


async def test_concurrent_attempts_share_transactions_and_sell_exactly_the_stock(
    state: AppState,
) -> None:
    sale, people = await crowd(state, "rush")
    batcher = gate_db.Batcher(state.write_factory)
    transactions = 0
    answer = batcher._answer

    async def counted(*args: object) -> None:
        nonlocal transactions
        transactions += 1
        await answer(*args)  # type: ignore[arg-type]

    batcher._answer = counted  # type: ignore[method-assign]

    async def attempt(customer: int, nonce: str) -> str:
        try:
            got = await batcher.submit(sale.tenant, sale.id, gate_db.Attempt(customer, nonce))
        except LoopmallError as exc:
            return exc.code
        return got.status

    # Every holder clicks twice at once with the same token; the strangers try too.
    calls = []
    for customer in people:
        token = secrets.token_hex(12)
        calls += [attempt(customer, token), attempt(customer, token)]
    answers = await asyncio.gather(*calls)
    assert answers.count("accepted") == UNITS
    assert answers.count("flash_not_reserved") == 8
    assert set(answers) <= {
        "accepted",
        "flash_not_reserved",
        "flash_already_bought",
        "flash_sold_out",
    }
    assert transactions < len(calls) / 4
    n_tickets, n_tokens, left = await rows_left(state, sale)
    assert (n_tickets, n_tokens, left) == (UNITS, UNITS, 0)


async def test_after_sold_out_one_attempt_asks_again_and_nobody_is_told_sold_out_on_a_guess(
    state: AppState, client: httpx.AsyncClient
) -> None:
    """Sold out, remembered for 0.3 s; a unit comes back. The first attempt after the
    moment asks the database (the probe). While the database is slow to answer, the others
    do not take "sold out" from memory: once the probe has been asking for a moment they
    ask the gate themselves, behind it — the probe gets the unit, they the fresh "sold
    out"; then the process remembers again."""
    state.settings.flashsale_sold_out_memory_seconds = 0.3
    sale, people = await crowd(state, "probe")
    path = f"/api/v1/mall/{sale.tenant.slug}/flash/{sale.public_id}/buy"

    async def buy(customer: int) -> tuple[str, float]:
        token = tokens.issue_token(
            state.settings.secret_key, sale_id=sale.id, customer_id=customer, now=clock.now()
        )
        r = await client.post(path, json={"token": token})
        body = r.json()
        return body.get("code") or body["status"], time.monotonic()

    for customer in people[:UNITS]:
        assert (await buy(customer))[0] == "accepted"
    assert (await buy(people[UNITS]))[0] == "flash_sold_out"
    async with UnitOfWork(state.write_factory) as uow:  # a lapse puts a unit back
        await give_units(uow.session, sale.tenant, sale.id, 1)
        await uow.commit()
    assert (await buy(people[UNITS + 1]))[0] == "flash_sold_out"  # remembered
    await asyncio.sleep(0.35)

    # The database is busy: the bucket rows are held by another writer for a second.
    release = asyncio.Event()

    async def busy_writer() -> None:
        async with UnitOfWork(state.write_factory) as uow:
            await uow.session.execute(
                update(FlashBucket)
                .where(FlashBucket.sale_id == sale.id)
                .values(remaining=FlashBucket.remaining)
            )
            await release.wait()
            await uow.commit()

    holder = asyncio.create_task(busy_writer())
    await asyncio.sleep(0.1)
    probe = asyncio.create_task(buy(people[UNITS + 2]))
    await asyncio.sleep(0.05)
    others = [asyncio.create_task(buy(c)) for c in people[UNITS + 3 : UNITS + 6]]
    await asyncio.sleep(0.6)
    assert not probe.done() and not any(o.done() for o in others)  # nobody told on a guess
    released_at = time.monotonic()
    release.set()
    await holder
    assert (await probe)[0] == "accepted"
    answers = [await o for o in others]
    assert [a for a, _t in answers] == ["flash_sold_out"] * 3
    assert all(at >= released_at for _a, at in answers)
    assert (await buy(people[UNITS + 6]))[0] == "flash_sold_out"
