"""``materialize``: accepted requests become tickets and unpaid orders in one batch,
idempotent on the request id; lapses put units back on sale once (both backends)."""

from __future__ import annotations

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale.lapse import lapse_unpaid
from loopmall.flashsale.materialize import BuyRequest, Outcome, OutcomeStatus, materialize
from loopmall.orders.jobs import sweep_unpaid
from loopmall.orders.service import MarkPaid
from tests.flashsale.fixtures import (
    Sale,
    holders,
    make_sale,
    orders_by_status,
    remaining,
    sale_stock,
    tickets,
)
from tests.orders.fixtures import pay_order


def req(customer_id: int, rid: str | None = None, quantity: int = 1) -> BuyRequest:
    return BuyRequest(rid or f"r-{customer_id}", customer_id, quantity, clock.now())


async def run(state: AppState, sale: Sale, requests: list[BuyRequest]) -> list[Outcome]:
    async with UnitOfWork(state.write_factory) as uow:
        outcomes = await materialize(uow.session, sale.tenant, sale.id, requests)
        await uow.commit()
        return outcomes


async def test_a_batch_becomes_unpaid_orders_once(
    state: AppState, frozen_clock: clock.FrozenClock
) -> None:
    sale = await make_sale(state, units=5)
    a, b, c = await holders(state, sale, 3)

    first = await run(state, sale, [req(a.customer_id), req(b.customer_id), req(c.customer_id)])
    assert [o.status for o in first] == [OutcomeStatus.ORDERED] * 3
    assert all(o.order_public_id and o.ticket_status == "ordered" for o in first)
    assert len({o.order_id for o in first}) == 3
    assert await remaining(state, sale) == 2
    # The units wait at the sale's location; the buckets count them, no hold repeats it.
    assert await sale_stock(state, sale) == (5, 0)
    assert await orders_by_status(state) == {"created": 3}

    # The consumer died before XACK: the same entries come again, the same answers.
    again = await run(state, sale, [req(c.customer_id), req(a.customer_id)])
    assert [o.order_id for o in again] == [first[2].order_id, first[0].order_id]
    assert await orders_by_status(state) == {"created": 3}
    assert await remaining(state, sale) == 2

    # A repeat buyer under another request id gets nothing.
    (dup,) = await run(state, sale, [req(a.customer_id, "other")])
    assert dup.status is OutcomeStatus.DUPLICATE and dup.order_id is None

    # The order is an ordinary order: it pays at the sale's price.
    assert await pay_order(state, sale.tenant, first[0].order_public_id or "") is MarkPaid.PAID
    by_customer = {t.customer_id: t.status for t in await tickets(state, sale)}
    assert by_customer == {
        a.customer_id: "paid",
        b.customer_id: "ordered",
        c.customer_id: "ordered",
    }
    assert await sale_stock(state, sale) == (4, 0)
    assert first[0].order_id is not None


async def test_requests_beyond_the_stock_are_sold_out_and_leave_nothing(
    state: AppState, frozen_clock: clock.FrozenClock
) -> None:
    sale = await make_sale(state, units=2)
    buyers = await holders(state, sale, 4)
    outcomes = await run(state, sale, [req(s.customer_id) for s in buyers] + [req(999_999)])
    assert [o.status for o in outcomes] == [
        OutcomeStatus.ORDERED,
        OutcomeStatus.ORDERED,
        OutcomeStatus.SOLD_OUT,
        OutcomeStatus.SOLD_OUT,
        OutcomeStatus.NOT_RESERVED,
    ]
    assert len(await tickets(state, sale)) == 2
    assert await remaining(state, sale) == 0
    (too_many,) = await run(state, sale, [req(buyers[3].customer_id, "two", quantity=2)])
    assert too_many.status is OutcomeStatus.INVALID


async def test_unpaid_orders_lapse_and_their_units_return_once(
    state: AppState, frozen_clock: clock.FrozenClock
) -> None:
    sale = await make_sale(state, units=3)
    buyers = await holders(state, sale, 4)
    outcomes = await run(state, sale, [req(s.customer_id) for s in buyers[:3]])
    assert await pay_order(state, sale.tenant, outcomes[0].order_public_id or "") is MarkPaid.PAID
    assert await remaining(state, sale) == 0

    frozen_clock.advance(seconds=state.settings.flashsale_pay_within_seconds + 1)
    # The flash sweep and the orders' own sweep both run: each lapse counts once.
    assert await lapse_unpaid(state) == 2
    assert await sweep_unpaid(state) == 0
    assert await lapse_unpaid(state) == 0
    assert await remaining(state, sale) == 2
    assert await sale_stock(state, sale) == (2, 0)
    statuses = sorted(t.status for t in await tickets(state, sale))
    assert statuses == ["lapsed", "lapsed", "paid"]
    # A payment arriving after the lapse is refused (payments refunds it): no unit twice.
    late = await pay_order(state, sale.tenant, outcomes[1].order_public_id or "")
    assert late is MarkPaid.CANCELLED
    assert await remaining(state, sale) == 2

    # The returned units sell again, to someone who has not bought.
    (resold,) = await run(state, sale, [req(buyers[3].customer_id)])
    assert resold.status is OutcomeStatus.ORDERED
    assert await remaining(state, sale) == 1
    # A lapsed buyer does not get a second ticket.
    (lapsed_again,) = await run(state, sale, [req(buyers[1].customer_id, "retry")])
    assert lapsed_again.status is OutcomeStatus.DUPLICATE


async def test_the_orders_sweep_alone_also_returns_the_units(
    state: AppState, frozen_clock: clock.FrozenClock
) -> None:
    sale = await make_sale(state, units=2)
    buyers = await holders(state, sale, 2)
    await run(state, sale, [req(s.customer_id) for s in buyers])
    frozen_clock.advance(seconds=state.settings.flashsale_pay_within_seconds + 1)
    assert await sweep_unpaid(state) == 2
    assert await remaining(state, sale) == 2
    assert await orders_by_status(state) == {"cancelled": 2}
