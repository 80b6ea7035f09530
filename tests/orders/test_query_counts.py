"""CONVENTIONS rule 13: the cart and checkout load on purpose. The number of statements
each makes is pinned here, so a change that adds a query per line shows up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.orders import cart, checkout
from tests.orders.fixtures import ADDRESS, login_shopper, make_shop


@contextmanager
def counting(state: AppState) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    for engine in state.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        for engine in state.engines:
            event.remove(engine.sync_engine, "before_cursor_execute", before)


async def _fill(state: AppState, lines: int) -> tuple[Any, int]:
    shop = await make_shop(state, f"q{lines}", sku_count=lines)
    me = await login_shopper(state, shop.tenant)
    async with UnitOfWork(state.write_factory) as uow:
        for sku in shop.skus:
            await cart.add_to_cart(uow.session, shop.tenant, me.customer_id, sku.public_id, 1)
        await uow.commit()
    return shop, me.customer_id


async def _view_count(state: AppState, shop: Any, customer_id: int, pickup: bool) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        store = shop.store if pickup else None
        with counting(state) as statements:
            view = await cart.view_cart(uow.session, shop.tenant, customer_id, store=store)
        assert view.ok
        return len(statements)


async def _checkout_count(state: AppState, shop: Any, customer_id: int) -> int:
    async with UnitOfWork(state.write_factory) as uow:
        with counting(state) as statements:
            await checkout.checkout(
                uow.session,
                shop.tenant,
                customer_id=customer_id,
                request=checkout.CheckoutRequest(
                    fulfilment="delivery", address=checkout.Address(**ADDRESS)
                ),
                unpaid_ttl_seconds=1800,
            )
        await uow.commit()
        return len(statements)


async def test_the_cart_costs_the_same_whatever_its_size(state: AppState) -> None:
    small, small_customer = await _fill(state, 1)
    large, large_customer = await _fill(state, 8)
    # The lines with their SKUs, products, channel price and the membership; free stock.
    assert await _view_count(state, small, small_customer, pickup=False) == 2
    assert await _view_count(state, large, large_customer, pickup=False) == 2
    # For pickup too: the store is given, its price row joins the lines (issue #13).
    assert await _view_count(state, large, large_customer, pickup=True) == 2


async def test_checkout_statements_are_pinned(state: AppState, backend: str) -> None:
    one, one_customer = await _fill(state, 1)
    four, four_customer = await _fill(state, 4)
    # Reads: the cart with its SKUs and prices, free stock, the warehouse. Writes: the
    # order, the level's lock and UPDATE, the hold, the ledger, the lines, the timeline,
    # the cart, the event.
    assert await _checkout_count(state, one, one_customer) == 12
    # Each line more: inventory first makes sure every line's stock level exists (one
    # SELECT per line) and then locks them together in id order, and raises held with one
    # conditional UPDATE per line; SQLite cannot batch the holds' INSERT … RETURNING.
    per_extra_line = {"postgres": 1, "sqlite": 2}[backend]
    assert await _checkout_count(state, four, four_customer) == 12 + 4 + 3 * per_extra_line
