"""Refunds (staff, full and partial), the automatic refund of money no order wants, the
close of open attempts when an order is cancelled, and refund callbacks arriving before a
(late) payment callback — WeChat Pay through the real adapter and the live stand-in."""

from __future__ import annotations

import asyncio

from loopmall.core.uow import UnitOfWork
from loopmall.orders import service as orders
from loopmall.standins.delivery import RecordedCallback
from tests.payments.conftest import World


async def _wait_for(world: World, out_trade_no: str, event: str) -> RecordedCallback:
    """The stand-in completes refunds by itself a moment later and builds their callback."""
    for _ in range(100):
        found = world.wechat_callbacks(out_trade_no, event)
        if found:
            return found[-1]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {event} callback for {out_trade_no}")


async def _paid(world: World, amount_fen: int = 100_00) -> tuple[str, str, RecordedCallback]:
    order = await world.order(amount_fen)
    started = await world.start(order, "wechat_native")
    payment = await world.payment(started["payment"])
    cb = world.standins.wechatpay.complete_payment(world.wechat.config.mchid, payment.out_trade_no)
    return order, started["payment"], cb


async def _refund(world: World, order: str, amount_fen: int, key: str | None = None) -> dict:
    headers = dict(world.staff_headers)
    if key:
        headers["Idempotency-Key"] = key
    response = await world.client.post(
        "/api/v1/payments/refunds",
        json={"order": order, "amount_fen": amount_fen, "reason": "顾客退货"},
        headers=headers,
    )
    return {"status": response.status_code, **response.json()}


async def test_partial_refunds_add_up_and_never_exceed_the_payment(world: World) -> None:
    order, payment_id, cb = await _paid(world)
    assert (await world.deliver(cb)).status_code == 204

    first = await _refund(world, order, 30_00, key="r1")
    again = await _refund(world, order, 30_00, key="r1")  # a retry of the same request
    second = await _refund(world, order, 50_00)
    too_much = await _refund(world, order, 20_01)  # 20.00 left

    assert (first["status"], first["state"], first["automatic"]) == (201, "requested", False)
    assert again["id"] == first["id"]
    assert second["status"] == 201
    assert (too_much["status"], too_much["code"], too_much["refundable_fen"]) == (
        409,
        "refund_not_allowed",
        20_00,
    )
    await world.drain()  # the outbox asks WeChat Pay for both refunds
    payment = await world.payment(payment_id)
    for refund in await world.refunds(payment.id):
        done = world.standins.wechatpay.refunds[(world.wechat.config.mchid, refund.out_refund_no)]
        assert done.refund == refund.amount_fen
    callbacks = []
    for _ in range(100):
        callbacks = world.wechat_callbacks(payment.out_trade_no, "REFUND.SUCCESS")
        if len(callbacks) == 2:
            break
        await asyncio.sleep(0.02)
    assert len(callbacks) == 2
    for refund_cb in callbacks:
        assert (await world.deliver(refund_cb)).status_code == 204
        assert (await world.deliver(refund_cb)).status_code == 204  # duplicate: no change

    payment = await world.payment(payment_id)
    assert (payment.state, payment.refunded_fen) == ("partially_refunded", 80_00)
    assert [r.state for r in await world.refunds(payment.id)] == ["succeeded", "succeeded"]
    paid = await world.payable(order)
    assert paid.paid_fen == 100_00
    assert await world.events("order.refunded") == 2
    outcomes = [r.outcome for r in await world.records(payment.out_trade_no) if r.kind == "refund"]
    assert sorted(outcomes) == ["refund_duplicate", "refund_duplicate"] + ["refund_succeeded"] * 2


async def test_a_refund_callback_before_the_late_payment_callback(
    world: World, real_clock: object
) -> None:
    """The payment callback is lost for a while; the pay page's query applies the payment;
    staff refund it in full; the refund callback arrives; then the old payment callback
    finally arrives — it changes nothing (the order stays refunded, nothing ships)."""
    order, payment_id, payment_cb = await _paid(world, 25_00)
    real_clock.advance(seconds=6)  # type: ignore[attr-defined]
    polled = await world.client.get(f"/api/v1/mall/{world.tenant.slug}/payments/{payment_id}")
    assert polled.json()["state"] == "succeeded"  # query-on-return found it paid
    assert (await world.payable(order)).paid_fen == 25_00

    assert (await _refund(world, order, 25_00))["status"] == 201
    await world.drain()
    payment = await world.payment(payment_id)
    refund_cb = await _wait_for(world, payment.out_trade_no, "REFUND.SUCCESS")
    assert (await world.deliver(refund_cb)).status_code == 204
    late = await world.deliver(payment_cb)

    assert late.status_code == 204
    payment = await world.payment(payment_id)
    assert (payment.state, payment.refunded_fen) == ("refunded", 25_00)
    assert (await world.payable(order)).status == "refunded"
    assert await world.events("order.paid") == 1
    records = await world.records(payment.out_trade_no)
    assert [(r.source, r.outcome) for r in records] == [
        ("query", "paid"),
        ("callback", "refund_succeeded"),
        ("callback", "duplicate"),
    ]


async def test_a_payment_after_the_order_was_cancelled_is_refunded_automatically(
    world: World,
) -> None:
    order, payment_id, cb = await _paid(world, 66_00)
    async with UnitOfWork(world.state.write_factory) as uow:
        found = await orders.get_payable_by_public_id(uow.session, world.tenant, order)
        await orders.cancel_order(uow.session, world.tenant, found.id, actor="system", reason="t")
        await uow.commit()

    response = await world.deliver(cb)

    assert response.status_code == 204
    payment = await world.payment(payment_id)
    [record] = await world.records(payment.out_trade_no)
    assert record.outcome == "refunded_cancelled"
    [refund] = await world.refunds(payment.id)
    assert (refund.automatic, refund.amount_fen, refund.reason) == (True, 66_00, "order_cancelled")
    await world.drain()  # order.cancelled → close (already paid: applied), refund sent
    trade = world.standins.wechatpay.find_trade(world.wechat.config.mchid, payment.out_trade_no)
    assert trade.refunded == 66_00
    refund_cb = await _wait_for(world, payment.out_trade_no, "REFUND.SUCCESS")
    assert (await world.deliver(refund_cb)).status_code == 204
    payment = await world.payment(payment_id)
    assert payment.state == "refunded"
    cancelled = await world.payable(order)
    assert (cancelled.status, cancelled.paid_fen) == ("cancelled", 0)
    assert await world.events("order.paid") == 0


async def test_cancelling_an_order_closes_its_open_attempts_at_the_provider(world: World) -> None:
    order = await world.order(9_90)
    started = await world.start(order, "wechat_native")
    payment = await world.payment(started["payment"])
    async with UnitOfWork(world.state.write_factory) as uow:
        found = await orders.get_payable_by_public_id(uow.session, world.tenant, order)
        await orders.cancel_order(uow.session, world.tenant, found.id, actor="system", reason="t")
        await uow.commit()

    await world.drain()

    trade = world.standins.wechatpay.find_trade(world.wechat.config.mchid, payment.out_trade_no)
    assert trade.trade_state == "CLOSED"
    assert (await world.payment(started["payment"])).state == "closed"


async def test_paid_while_being_closed_is_applied_and_refunded(world: World) -> None:
    """The customer pays just as the order lapses: the close finds the trade paid, applies
    it (the order is cancelled) and refunds it — the payment is not lost, nothing ships."""
    order, payment_id, _cb = await _paid(world, 8_80)  # the callback never arrives
    async with UnitOfWork(world.state.write_factory) as uow:
        found = await orders.get_payable_by_public_id(uow.session, world.tenant, order)
        await orders.cancel_order(uow.session, world.tenant, found.id, actor="system", reason="t")
        await uow.commit()

    await world.drain()
    await world.drain()

    payment = await world.payment(payment_id)
    assert payment.state in ("succeeded", "refunded")
    [refund] = await world.refunds(payment.id)
    assert (refund.automatic, refund.amount_fen) == (True, 8_80)
    trade = world.standins.wechatpay.find_trade(world.wechat.config.mchid, payment.out_trade_no)
    assert trade.refunded == 8_80
    [record] = await world.records(payment.out_trade_no)
    assert (record.source, record.outcome) == ("close", "refunded_cancelled")


async def test_an_order_paid_twice_refunds_the_second_payment(world: World) -> None:
    """Native QR and Alipay QR both shown; the customer pays both."""
    order = await world.order(20_00)
    wechat = await world.start(order, "wechat_native")
    alipay = await world.start(order, "alipay_qr")
    wx_payment = await world.payment(wechat["payment"])
    ali_payment = await world.payment(alipay["payment"])
    wx_cb = world.standins.wechatpay.complete_payment(
        world.wechat.config.mchid, wx_payment.out_trade_no
    )
    ali_cb = world.standins.alipay.complete_payment(
        world.alipay.config.app_id, ali_payment.out_trade_no
    )
    assert ali_cb is not None

    assert (await world.deliver(wx_cb)).status_code == 204
    ali_answer = await world.deliver(ali_cb)

    assert (ali_answer.status_code, ali_answer.text) == (200, "success")
    [ali_record] = await world.records(ali_payment.out_trade_no)
    assert ali_record.outcome == "refunded_double"
    await world.drain()  # Alipay refunds synchronously
    ali_payment = await world.payment(alipay["payment"])
    assert ali_payment.state == "refunded"
    assert (await world.payment(wechat["payment"])).state == "succeeded"
    paid = await world.payable(order)
    assert (paid.paid_fen, paid.status) == (20_00, "completed")
    assert await world.events("order.paid") == 1


async def test_cancelling_closes_an_open_alipay_trade_too(world: World) -> None:
    order = await world.order(4_40)
    started = await world.start(order, "alipay_qr")
    async with UnitOfWork(world.state.write_factory) as uow:
        found = await orders.get_payable_by_public_id(uow.session, world.tenant, order)
        await orders.cancel_order(uow.session, world.tenant, found.id, actor="system", reason="t")
        await uow.commit()

    await world.drain()

    assert (await world.payment(started["payment"])).state == "closed"
    payment = await world.payment(started["payment"])
    status = await world.standins.alipay_provider(world.alipay).query(payment.out_trade_no)
    assert status.state == "closed"


async def test_a_refund_whose_outbox_event_died_is_sent_again(world: World) -> None:
    """WeChat Pay was unreachable for hours: the refund's outbox event gave up. The job
    sees a refund still ``requested`` and gives its sending a fresh set of attempts."""
    from sqlalchemy import select

    from loopmall.core import clock
    from loopmall.core.models import EventDelivery, OutboxEvent
    from loopmall.payments.handlers import resend_refunds

    order, payment_id, cb = await _paid(world, 12_00)
    assert (await world.deliver(cb)).status_code == 204
    assert (await _refund(world, order, 12_00))["status"] == 201
    async with UnitOfWork(world.state.write_factory) as uow:
        # The refund's event was handed on, and its sending died after ten tries.
        [event] = await uow.session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == "payment.refund_requested")
        )
        event.status = "done"
        uow.session.add(
            EventDelivery(
                event_id=event.id,
                merchant_id=event.merchant_id,
                subscriber="payments.send_refund",
                topic=event.topic,
                status="dead",
                attempts=10,
                created_at=clock.now(),
                available_at=clock.now(),
                last_error="ConnectError: WeChat Pay unreachable",
            )
        )
        await uow.commit()
    await world.drain()  # other events only: the refund's is dead
    payment = await world.payment(payment_id)
    assert [r.state for r in await world.refunds(payment.id)] == ["requested"]

    assert await resend_refunds(world.state) == 1
    await world.drain()

    [refund] = await world.refunds(payment.id)
    assert refund.state in ("processing", "succeeded")
    trade = world.standins.wechatpay.find_trade(world.wechat.config.mchid, payment.out_trade_no)
    assert trade.refunded == 12_00
    assert await resend_refunds(world.state) == 0
