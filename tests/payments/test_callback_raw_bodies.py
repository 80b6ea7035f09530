"""Payment callbacks are unauthenticated and every attempt is recorded: a body holding a
NUL, other control characters or bytes that are not UTF-8 is recorded exactly (PostgreSQL
refuses NUL in text; it used to be a 500 and no record) and then refused — never a 5xx."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest

from loopmall.core.text import original
from tests.payments.conftest import World


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id":"EV\x00NUL","resource":{}}',
        b'{"id":"\\u0000escaped","resource":{}}',
        b"\xff\xfe not utf-8 \x00",
        b'{"summary":"\x1b[31m\xc2\x85"}',
    ],
    ids=["nul", "escaped-nul", "not-utf8", "controls"],
)
async def test_wechatpay_body_with_a_nul_is_recorded_then_refused(world: World, raw: bytes) -> None:
    order = await world.order(12_34)
    started = await world.start(order, "wechat_native")
    payment = await world.payment(started["payment"])
    cb = world.standins.wechatpay.complete_payment(world.wechat.config.mchid, payment.out_trade_no)

    response = await world.deliver(cb, body=raw)

    assert response.status_code == 400, response.text
    assert (await world.payable(order)).paid_fen == 0
    [record] = await world.records()
    assert (record.verified, record.outcome) == (False, "rejected")
    assert original(record.body) == raw
    # The genuine callback still pays afterwards.
    assert (await world.deliver(cb)).status_code in (200, 204)
    assert (await world.payable(order)).paid_fen == 12_34


async def test_alipay_form_with_a_nul_is_recorded_then_refused(world: World) -> None:
    order = await world.order(59_90)
    started = await world.start(order, "alipay_qr")
    payment = await world.payment(started["payment"])
    cb = world.standins.alipay.complete_payment(world.alipay.config.app_id, payment.out_trade_no)
    assert cb is not None
    fields = dict(parse_qsl(cb.body))
    fields["subject"] = "坏\x00订单"
    raw = urlencode(fields).encode().replace(b"%00", b"\x00")  # a raw NUL byte

    response = await world.deliver(cb, body=raw)

    assert (response.status_code, response.text) == (200, "fail")
    assert (await world.payable(order)).paid_fen == 0
    [record] = await world.records()
    assert (record.verified, record.outcome, record.reason) == (False, "rejected", "bad signature")
    assert original(record.body) == raw
    assert (await world.deliver(cb)).text == "success"
