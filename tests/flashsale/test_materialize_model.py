"""``materialize`` against a model, over random batches (hypothesis, both backends):
requests repeat within and across batches (a consumer's redelivery), customers try under
several request ids, some hold no reservation, some ask for too much. Every outcome is the
model's; the units sold plus the units left are always the stock."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale.materialize import BuyRequest, OutcomeStatus, materialize
from tests.flashsale.fixtures import holders, make_sale, remaining, tickets
from tests.orders.fixtures import login_shopper

UNITS = 3
RESERVED = 5  # customers 0..4 reserved; 5 and 6 did not

Request = tuple[int, int, int]  # (customer index, request number, quantity)
requests = st.tuples(st.integers(0, 6), st.integers(0, 2), st.sampled_from([1, 1, 1, 2]))
batches = st.lists(st.lists(requests, min_size=1, max_size=6), min_size=1, max_size=5)


def model(all_batches: list[list[Request]]) -> list[list[tuple[str, OutcomeStatus]]]:
    left = UNITS
    ticket_of: dict[int, str] = {}  # customer → request id of their ticket
    answers: list[list[tuple[str, OutcomeStatus]]] = []
    for batch in all_batches:
        seen: set[str] = set()
        out: list[tuple[str, OutcomeStatus]] = []
        for customer, number, quantity in batch:
            rid = f"c{customer}-{number}"
            if rid in seen:
                continue
            seen.add(rid)
            if quantity > 1:
                status = OutcomeStatus.INVALID
            elif customer >= RESERVED:
                status = OutcomeStatus.NOT_RESERVED
            elif ticket_of.get(customer) == rid:
                status = OutcomeStatus.ORDERED
            elif customer in ticket_of:
                status = OutcomeStatus.DUPLICATE
            elif left == 0:
                status = OutcomeStatus.SOLD_OUT
            else:
                left -= 1
                ticket_of[customer] = rid
                status = OutcomeStatus.ORDERED
            out.append((rid, status))
        answers.append(out)
    return answers


async def replay(db_url: str, tmp: Path, all_batches: list[list[Request]]) -> None:
    state = AppState.build(
        Settings(
            env="test",
            database_url=db_url,
            data_dir=tmp / "data",
            auto_migrate=False,
            run_background=False,
            secret_key="test-secret",
        )
    )
    try:
        slug = f"m{uuid.uuid4().hex[:10]}"
        sale = await make_sale(state, units=UNITS, slug=slug)
        customers = [s.customer_id for s in await holders(state, sale, RESERVED)]
        for i in range(2):
            customers.append((await login_shopper(state, sale.tenant, f"路人{i}")).customer_id)
        orders: dict[str, int | None] = {}
        for batch, expected in zip(all_batches, model(all_batches), strict=True):
            async with UnitOfWork(state.write_factory) as uow:
                outcomes = await materialize(
                    uow.session,
                    sale.tenant,
                    sale.id,
                    [
                        BuyRequest(f"{slug}-c{c}-{n}", customers[c], q, clock.now())
                        for c, n, q in batch
                    ],
                )
                await uow.commit()
            assert [(o.request_id, o.status) for o in outcomes] == [
                (f"{slug}-{rid}", status) for rid, status in expected
            ]
            for o in outcomes:
                if o.status is OutcomeStatus.ORDERED:
                    assert o.order_id is not None
                    # A redelivered request names the order it made the first time.
                    assert orders.setdefault(o.request_id, o.order_id) == o.order_id
        sold = await tickets(state, sale)
        assert len({t.customer_id for t in sold}) == len(sold) <= UNITS
        assert all(t.status == "ordered" and t.order_id for t in sold)
        assert await remaining(state, sale) + sum(t.quantity for t in sold) == UNITS
    finally:
        await state.close()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(all_batches=batches)
def test_materialize_matches_the_model(
    db_url: str, tmp_path: Path, all_batches: list[list[Request]]
) -> None:
    asyncio.run(replay(db_url, tmp_path, all_batches))
