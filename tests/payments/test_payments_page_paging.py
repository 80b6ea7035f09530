"""Issue #11 (chain scale): /console/payments shows a page of payments (newest first, by the
primary key) and a link to older ones, where it rendered 100 on every view; the next page
costs the same statements."""

from __future__ import annotations

import re

from sqlalchemy import inspect, text

from loopmall.core.uow import UnitOfWork
from loopmall.payments.console_pages import LIST_SIZE
from tests.chain_rows import numbers
from tests.payments.conftest import World
from tests.payments.test_pages import _console
from tests.reads import reading


async def _copies(world: World, backend: str, payment_id: int, n: int) -> None:
    """``n`` copies of a payment (new public ids and trade numbers), in one INSERT … SELECT."""
    async with UnitOfWork(world.state.write_factory) as uow:
        conn = await uow.session.connection()
        columns = await conn.run_sync(
            lambda sync: [c["name"] for c in inspect(sync).get_columns("payments")]
        )
        names = [c for c in columns if c != "id"]
        values = [
            f"substr(p.{c}, 1, 12) || 'c' || x" if c in ("public_id", "out_trade_no") else f"p.{c}"
            for c in names
        ]
        await conn.execute(
            text(
                f"INSERT INTO payments ({', '.join(names)}) SELECT {', '.join(values)} "
                f"{numbers(backend, ':n')} JOIN payments p ON p.id = :p"
            ),
            {"n": n, "p": payment_id},
        )
        await uow.commit()


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-payment="([^"]+)"', html)


async def test_payments_come_a_page_at_a_time(world: World, backend: str) -> None:
    order = await world.order(30_00, store_id=world.store_id)
    started = await world.start(order, "wechat_native")
    payment = await world.payment(started["payment"])
    cb = world.standins.wechatpay.complete_payment(world.wechat.config.mchid, payment.out_trade_no)
    assert (await world.deliver(cb)).status_code == 204
    await _copies(world, backend, payment.id, LIST_SIZE + 4)
    await _console(world)

    with reading(world.state) as first_reads:
        first = await world.client.get("/console/payments")
    assert first.status_code == 200
    assert len(_rows(first.text)) == LIST_SIZE
    older = re.search(
        r'<a href="(/console/payments\?cursor=[^"]+)" id="older-payments">', first.text
    )
    assert older is not None and "更早的付款" in first.text

    with reading(world.state) as second_reads:
        second = await world.client.get(older[1].replace("&amp;", "&"))
    assert second.status_code == 200
    assert len(_rows(second.text)) == 5 and 'id="older-payments"' not in second.text
    assert not set(_rows(first.text)) & set(_rows(second.text))
    assert len(second_reads.statements) == len(first_reads.statements)

    bad = await world.client.get("/console/payments?cursor=bm90LWFuLWlk")
    assert bad.status_code == 422
