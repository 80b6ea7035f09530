"""Alipay notifies through the real adapter (python-alipay-sdk), from the live stand-in, on
both backends. Alipay retries until it reads the literal ``success``; anything else (we
answer ``fail``) makes it try again."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlencode

from loopmall.standins.delivery import RecordedCallback
from tests.payments.conftest import World


async def _paid(world: World, amount_fen: int = 59_90) -> tuple[str, str, RecordedCallback]:
    order = await world.order(amount_fen)
    started = await world.start(order, "alipay_qr")
    assert started["qr_content"]
    payment = await world.payment(started["payment"])
    cb = world.standins.alipay.complete_payment(world.alipay.config.app_id, payment.out_trade_no)
    assert cb is not None
    return order, started["payment"], cb


def _resigned(world: World, cb: RecordedCallback, **changes: str) -> RecordedCallback:
    """A genuinely signed notify whose fields we changed (Alipay's key signs it)."""
    fields = dict(parse_qsl(cb.body))
    fields.pop("sign", None)
    fields.update(changes)
    app = world.standins.alipay.apps[world.alipay.config.app_id]
    return world.standins.alipay.build_notify(app, fields, cb.url)


async def test_a_notify_pays_once_even_ten_at_once(world: World) -> None:
    order, payment_id, cb = await _paid(world)

    answers = await asyncio.gather(*(world.deliver(cb) for _ in range(10)))

    assert [(a.status_code, a.text) for a in answers] == [(200, "success")] * 10
    assert (await world.payable(order)).paid_fen == 59_90
    payment = await world.payment(payment_id)
    assert payment.state == "succeeded"
    outcomes = sorted(r.outcome for r in await world.records(payment.out_trade_no))
    assert outcomes == ["duplicate"] * 9 + ["paid"]
    assert await world.events("order.paid") == 1


async def test_a_replayed_notify_changes_nothing(world: World) -> None:
    """Alipay notifies carry no freshness window (retries span 25 h): a replay of a genuine
    notify, however old, is a duplicate."""
    _order, payment_id, cb = await _paid(world)
    old = _resigned(world, cb, notify_time="2026-11-22 08:00:00")

    assert (await world.deliver(cb)).text == "success"
    assert (await world.deliver(old)).text == "success"

    payment = await world.payment(payment_id)
    assert [r.outcome for r in await world.records(payment.out_trade_no)] == ["paid", "duplicate"]
    assert await world.events("order.paid") == 1


async def test_a_forged_notify_is_refused_and_recorded(world: World) -> None:
    order, _payment_id, cb = await _paid(world)
    fields = dict(parse_qsl(cb.body))
    fields["total_amount"] = "0.01"  # changed after signing
    forged_body = urlencode(fields)

    response = await world.deliver(cb, body=forged_body)

    assert (response.status_code, response.text) == (200, "fail")
    assert (await world.payable(order)).paid_fen == 0
    [record] = await world.records()
    assert (record.verified, record.outcome, record.reason) == (False, "rejected", "bad signature")


async def test_a_wrong_amount_is_not_applied(world: World) -> None:
    order, payment_id, cb = await _paid(world)
    cheap = _resigned(world, cb, total_amount="0.01", receipt_amount="0.01")

    response = await world.deliver(cheap)

    assert response.text == "success"
    assert (await world.payable(order)).paid_fen == 0
    payment = await world.payment(payment_id)
    assert payment.anomaly == "provider reported 1 fen paid, expected 5990"
    # The genuine notify still pays.
    assert (await world.deliver(cb)).text == "success"
    assert (await world.payable(order)).paid_fen == 59_90


async def test_an_unknown_trade_is_retried(world: World) -> None:
    _order, _payment_id, cb = await _paid(world)
    stranger = _resigned(world, cb, out_trade_no="LMNOSUCHTRADE0000000000001")

    response = await world.deliver(stranger)

    assert response.text == "fail"
    [record] = await world.records("LMNOSUCHTRADE0000000000001")
    assert (record.verified, record.outcome) == (True, "unknown_trade")


async def test_a_notify_for_another_app_is_refused(world: World) -> None:
    order, _payment_id, cb = await _paid(world)
    other = _resigned(world, cb, app_id="2021999999999999")

    response = await world.deliver(other)

    assert response.text == "fail"
    assert (await world.payable(order)).paid_fen == 0
    [record] = await world.records()
    assert (record.verified, record.reason) == (False, "notify for another app")
