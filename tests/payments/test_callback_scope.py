"""A verified callback settles only what was made through its own provider and account
(issue #11, case 9): a trade or refund number is no secret — it is on the payer's receipt —
so a notify genuinely signed by one provider that names another provider's attempt or
refund is recorded as refused and settles nothing. On both backends, through the real
adapters and the live stand-ins."""

from __future__ import annotations

from urllib.parse import parse_qsl

from loopmall.standins.delivery import RecordedCallback
from tests.payments.conftest import World


async def _started(world: World, method: str, amount_fen: int = 59_90) -> tuple[str, str, str]:
    """An order with an open attempt: (order, payment public id, out_trade_no)."""
    order = await world.order(amount_fen)
    started = await world.start(order, method)
    payment = await world.payment(started["payment"])
    return order, started["payment"], payment.out_trade_no


def _alipay_notify(world: World, **fields: str) -> RecordedCallback:
    """A notify genuinely signed for our Alipay app, with the fields we choose."""
    app = world.standins.alipay.apps[world.alipay.config.app_id]
    base = {
        "notify_time": "2026-12-07 12:00:00",
        "notify_type": "trade_status_sync",
        "notify_id": "ac05099524730693a8b330c5ecf72da9786",
        "app_id": app.app_id,
        "auth_app_id": app.app_id,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": "2026120722001400000000000001",
        "seller_id": app.seller_id,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "59.90",
        "receipt_amount": "59.90",
        "buyer_pay_amount": "59.90",
        "gmt_create": "2026-12-07 11:59:00",
        "gmt_payment": "2026-12-07 12:00:00",
        "subject": "test",
    }
    base.update(fields)
    return world.standins.alipay.build_notify(app, base, world.callback_url("alipay"))


def _wechat_callback(world: World, out_trade_no: str, amount_fen: int) -> RecordedCallback:
    wx = world.standins.wechatpay
    merchant = wx.merchant(world.wechat.config.mchid)
    resource = {
        "mchid": merchant.mchid,
        "appid": merchant.appid,
        "out_trade_no": out_trade_no,
        "transaction_id": "4200000000000000000000000009",
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "success_time": "2026-12-07T12:00:00+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {
            "total": amount_fen,
            "payer_total": amount_fen,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }
    return wx.build_callback(
        merchant,
        event_type="TRANSACTION.SUCCESS",
        summary="支付成功",
        original_type="transaction",
        resource=resource,
        notify_url=world.callback_url("wechatpay"),
        out_trade_no=out_trade_no,
    )


async def test_an_alipay_notify_does_not_settle_a_wechat_pay_attempt(world: World) -> None:
    order, payment_id, out_trade_no = await _started(world, "wechat_native")
    forged = _alipay_notify(world, out_trade_no=out_trade_no)

    response = await world.deliver(forged)

    assert (response.status_code, response.text) == (200, "fail")
    assert (await world.payable(order)).paid_fen == 0
    payment = await world.payment(payment_id)
    assert (payment.state, payment.provider_trade_no, payment.anomaly) == ("pending", None, "")
    [record] = await world.records(out_trade_no)
    assert (record.provider, record.verified, record.outcome, record.payment_id) == (
        "alipay",
        True,
        "foreign_trade",
        None,
    )
    assert record.reason == "the trade was made through another provider or account"
    assert await world.events("order.paid") == 0

    # The attempt's own provider still settles it.
    genuine = world.standins.wechatpay.complete_payment(world.wechat.config.mchid, out_trade_no)
    assert (await world.deliver(genuine)).status_code == 204
    assert (await world.payable(order)).paid_fen == 59_90


async def test_a_wechat_pay_callback_does_not_settle_an_alipay_attempt(world: World) -> None:
    order, payment_id, out_trade_no = await _started(world, "alipay_qr", 12_34)
    forged = _wechat_callback(world, out_trade_no, 12_34)

    response = await world.deliver(forged)

    assert response.status_code == 400  # "FAIL": refused, nothing applied
    assert (await world.payable(order)).paid_fen == 0
    assert (await world.payment(payment_id)).state == "pending"
    [record] = await world.records(out_trade_no)
    assert (record.provider, record.outcome) == ("wechatpay", "foreign_trade")


async def test_a_wrong_amount_on_a_foreign_trade_leaves_no_anomaly(world: World) -> None:
    """Not even the amount check runs on another account's attempt: nothing is written to it."""
    _order, payment_id, out_trade_no = await _started(world, "wechat_native")
    forged = _alipay_notify(world, out_trade_no=out_trade_no, total_amount="0.01")

    assert (await world.deliver(forged)).text == "fail"

    assert (await world.payment(payment_id)).anomaly == ""
    assert [r.outcome for r in await world.records(out_trade_no)] == ["foreign_trade"]


async def test_an_alipay_refund_notify_does_not_finish_a_wechat_pay_refund(world: World) -> None:
    order, payment_id, out_trade_no = await _started(world, "wechat_native", 100_00)
    genuine = world.standins.wechatpay.complete_payment(world.wechat.config.mchid, out_trade_no)
    assert (await world.deliver(genuine)).status_code == 204
    asked = await world.client.post(
        "/api/v1/payments/refunds",
        json={"order": order, "amount_fen": 30_00, "reason": "顾客退货"},
        headers=world.staff_headers,
    )
    assert asked.status_code == 201, asked.text
    payment = await world.payment(payment_id)
    [refund] = await world.refunds(payment.id)
    assert refund.state == "requested"
    forged = _alipay_notify(
        world,
        out_trade_no=out_trade_no,
        out_biz_no=refund.out_refund_no,
        refund_fee="30.00",
        gmt_refund="2026-12-07 12:05:00.000",
        total_amount="100.00",
    )
    assert dict(parse_qsl(forged.body))["out_biz_no"] == refund.out_refund_no

    response = await world.deliver(forged)

    assert response.text == "fail"
    [still] = await world.refunds(payment.id)
    assert (still.state, still.succeeded_at) == ("requested", None)
    payment = await world.payment(payment_id)
    assert (payment.state, payment.refunded_fen) == ("succeeded", 0)
    records = [r for r in await world.records(out_trade_no) if r.kind == "refund"]
    assert [(r.provider, r.outcome, r.out_refund_no) for r in records] == [
        ("alipay", "foreign_refund", refund.out_refund_no)
    ]


async def test_a_wechat_pay_refund_callback_does_not_finish_an_alipay_refund(
    world: World,
) -> None:
    order, payment_id, out_trade_no = await _started(world, "alipay_qr", 100_00)
    paid = world.standins.alipay.complete_payment(world.alipay.config.app_id, out_trade_no)
    assert paid is not None
    assert (await world.deliver(paid)).text == "success"
    asked = await world.client.post(
        "/api/v1/payments/refunds",
        json={"order": order, "amount_fen": 100_00, "reason": "顾客退货"},
        headers=world.staff_headers,
    )
    assert asked.status_code == 201, asked.text
    payment = await world.payment(payment_id)
    [refund] = await world.refunds(payment.id)
    wx = world.standins.wechatpay
    forged = wx.build_callback(
        wx.merchant(world.wechat.config.mchid),
        event_type="REFUND.SUCCESS",
        summary="退款成功",
        original_type="refund",
        resource={
            "mchid": world.wechat.config.mchid,
            "out_trade_no": out_trade_no,
            "transaction_id": "4200000000000000000000000003",
            "out_refund_no": refund.out_refund_no,
            "refund_id": "50000000000000000000000000000003",
            "refund_status": "SUCCESS",
            "success_time": "2026-12-07T12:05:00+08:00",
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": 100_00,
                "refund": 100_00,
                "payer_total": 100_00,
                "payer_refund": 100_00,
            },
        },
        notify_url=world.callback_url("wechatpay"),
        out_trade_no=out_trade_no,
    )

    response = await world.deliver(forged)

    assert response.status_code == 400
    [still] = await world.refunds(payment.id)
    assert still.state == "requested"
    assert (await world.payment(payment_id)).refunded_fen == 0
    records = [r for r in await world.records(out_trade_no) if r.kind == "refund"]
    assert [(r.provider, r.outcome) for r in records] == [("wechatpay", "foreign_refund")]
