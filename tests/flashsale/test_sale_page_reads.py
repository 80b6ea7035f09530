"""The mall's flash-sale page and its API read in a pinned number of statements (issue #13):
the sale with its SKU and product in one (``sale_for_everyone``, the same for every
visitor, plain JSON data), units left and the shopper's reservation and ticket in one more,
whatever the number of holders and tickets."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import cookie_name, sandbox_login
from loopmall.flashsale.materialize import BuyRequest, materialize
from loopmall.flashsale.views import SaleShown, sale_for_everyone, visitor_view
from tests.flashsale.fixtures import PRICE, Sale, holders, make_sale
from tests.reads import reading

HTML = {"Accept": "text/html"}


async def _buy(state: AppState, sale: Sale, customer_id: int, request: str) -> str:
    async with UnitOfWork(state.write_factory) as uow:
        (outcome,) = await materialize(
            uow.session, sale.tenant, sale.id, [BuyRequest(request, customer_id, 1, clock.now())]
        )
        await uow.commit()
    assert outcome.order_public_id is not None
    return outcome.order_public_id


async def _count(state: AppState, client: httpx.AsyncClient, path: str, **kw: object) -> int:
    with reading(state) as seen:
        got = await client.get(path, **kw)  # type: ignore[arg-type]
    assert got.status_code == 200, got.text
    return len(seen.statements)


async def test_the_shared_part_is_plain_data_and_reads_back(state: AppState) -> None:
    # Given a live sale
    sale = await make_sale(state, units=3)

    # When its shared part is read
    async with UnitOfWork(state.read_factory) as uow:
        with reading(state) as seen:
            data = await sale_for_everyone(uow.session, sale.tenant, sale.public_id)

    # Then it is one statement, survives JSON, and reads back to the sale as shown
    assert len(seen.statements) == 1
    shown = SaleShown.of(json.loads(json.dumps(data)))
    assert (shown.id, shown.public_id, shown.price_fen) == (sale.id, sale.public_id, PRICE)
    assert shown.sku_public_id == sale.shop.skus[0].public_id
    assert shown.product_public_id and shown.product_title
    assert shown.phase().value == "live" and shown.reserving()


async def test_the_visitors_part_is_one_statement_with_the_ticket_and_its_order(
    state: AppState,
) -> None:
    # Given a holder who bought, a holder who did not, and someone who did not reserve
    sale = await make_sale(state, units=1)
    bought, waiting = await holders(state, sale, 2)
    order = await _buy(state, sale, bought.customer_id, "r-1")
    stranger = (await holders(state, sale, 0)) or None

    # When each one's part is read
    async with UnitOfWork(state.read_factory) as uow:
        with reading(state) as seen:
            mine = await visitor_view(uow.session, sale.tenant, sale.id, bought.customer_id)
            theirs = await visitor_view(uow.session, sale.tenant, sale.id, waiting.customer_id)
            nobody = await visitor_view(uow.session, sale.tenant, sale.id, None)

    # Then each is one statement, and says what it should
    assert stranger is None and len(seen.statements) == 3
    assert mine.reserved and mine.sold_out and mine.ticket is not None
    assert (mine.ticket.status, mine.ticket.request_id) == ("ordered", "r-1")
    assert mine.ticket.order_public_id == order and mine.ticket.awaits_payment
    assert theirs.reserved and theirs.ticket is None and theirs.sold_out
    assert not nobody.reserved and nobody.ticket is None and nobody.sold_out


async def test_the_sale_page_and_api_are_pinned_whatever_the_crowd(
    state: AppState, client: httpx.AsyncClient
) -> None:
    # Given a sale with one holder who bought, signed in on the page and on the API
    sale = await make_sale(state, units=20, starts_in=timedelta(0))
    async with UnitOfWork(state.write_factory) as uow:
        customer, token = await sandbox_login(uow.session, sale.tenant, name="小红")
        await uow.commit()
    await holders(state, sale, 0)
    async with UnitOfWork(state.write_factory) as uow:
        from loopmall.flashsale import service

        await service.reserve_many(uow.session, sale.tenant, sale.id, [customer.id])
        await uow.commit()
    await _buy(state, sale, customer.id, "mine")
    page, api = f"/m/shop/flash/{sale.public_id}", f"/api/v1/mall/shop/flash/{sale.public_id}"
    bearer = {"Authorization": f"Bearer {token}"}

    async def measure() -> list[int]:
        client.cookies.clear()
        anonymous = [await _count(state, client, page, headers=HTML)]
        anonymous.append(await _count(state, client, api))
        client.cookies.set(cookie_name(state.settings, "shop"), token)
        signed_in = [await _count(state, client, page, headers=HTML)]
        client.cookies.clear()
        signed_in.append(await _count(state, client, api, headers=bearer))
        return anonymous + signed_in

    before = await measure()
    # When 30 more hold reservations and 10 of them bought
    crowd = await holders(state, sale, 30, prefix="人")
    for i, holder in enumerate(crowd[:10]):
        await _buy(state, sale, holder.customer_id, f"crowd-{i}")
    after = await measure()

    # Then each read sends as many statements as before. Anonymous page: the mall (merchant,
    # settings), the sale, units left; anonymous API: the merchant, the sale, units left.
    # Signed in: the shopper's session and customer come first, then the same two for the
    # sale (the ticket, its order and the reservation ride along with units left).
    assert before == after, (before, after)
    assert before == [4, 3, 6, 4]
    page_text = (await client.get(page, headers=HTML)).text
    assert "小米手机" in page_text and 'id="flash-item"' in page_text
