"""The WeChat Pay adapter (wechatpayv3 underneath) against the live WeChat Pay stand-in."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from loopmall.integrations.payment_provider import (
    CallbackRejected,
    PayMethod,
    PayRequest,
    ProviderError,
    RefundRequest,
)
from loopmall.integrations.wechatpay import WeChatPayProvider, signing
from loopmall.standins.harness import PaymentStandins
from loopmall.standins.keys import WeChatPayMerchantKeys, pooled_rsa_pem
from tests.standins.fixtures import NotifySink


def _no() -> str:
    return "LM" + secrets.token_hex(8).upper()


def _request(method: PayMethod = PayMethod.WECHAT_NATIVE, **kw: Any) -> PayRequest:
    values: dict[str, Any] = {
        "out_trade_no": _no(),
        "amount_fen": 12_34,
        "description": "春季新款 连衣裙 ×1",
        "notify_url": "http://127.0.0.1:9/api/v1/payments/callbacks/wechatpay/acc1",
        "method": method,
        "expires_at": datetime.now(UTC) + timedelta(minutes=15),
        **kw,
    }
    return PayRequest(**values)


def _now() -> datetime:
    return datetime.now(UTC)


def _pay(standins: PaymentStandins, out_trade_no: str, **body: Any) -> dict[str, Any]:
    r = httpx.post(
        f"{standins.wechatpay_url}/_standin/trades/{out_trade_no}/pay",
        json={"deliver": False, **body},
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def test_native_order_reaches_wechat_as_sent(
    payment_standins: PaymentStandins,
    wechatpay_merchant: WeChatPayMerchantKeys,
    wechatpay_provider: WeChatPayProvider,
) -> None:
    req = _request()
    start = await wechatpay_provider.start(req)
    assert start.qr_content is not None
    assert start.qr_content.startswith("weixin://wxpay/bizpayurl?pr=")
    trade = payment_standins.wechatpay.trades[(wechatpay_merchant.config.mchid, req.out_trade_no)]
    assert trade.request["amount"] == {"total": 1234, "currency": "CNY"}
    assert trade.request["description"] == "春季新款 连衣裙 ×1"
    assert trade.request["time_expire"].endswith("+08:00")
    assert trade.request["appid"] == wechatpay_merchant.config.appid
    status = await wechatpay_provider.query(req.out_trade_no)
    assert (status.state, status.amount_fen, status.provider_trade_no) == ("unpaid", 1234, None)


async def test_jsapi_params_are_signed_with_the_merchant_key(
    wechatpay_merchant: WeChatPayMerchantKeys, wechatpay_provider: WeChatPayProvider
) -> None:
    start = await wechatpay_provider.start(
        _request(PayMethod.WECHAT_JSAPI, openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    )
    p = start.jsapi_params
    assert p is not None and p["package"].startswith("prepay_id=wx") and p["signType"] == "RSA"
    assert p["appId"] == wechatpay_merchant.config.appid
    message = f"{p['appId']}\n{p['timeStamp']}\n{p['nonceStr']}\n{p['package']}\n"
    assert signing.rsa_verify(wechatpay_merchant.merchant_public_key_pem, message, p["paySign"])
    with pytest.raises(ProviderError, match="PARAM_ERROR"):
        await wechatpay_provider.start(_request(PayMethod.WECHAT_JSAPI))


async def test_h5_redirects_to_the_cashier(
    payment_standins: PaymentStandins, wechatpay_provider: WeChatPayProvider
) -> None:
    start = await wechatpay_provider.start(_request(PayMethod.WECHAT_H5, client_ip="203.0.113.7"))
    assert start.redirect_url is not None
    assert start.redirect_url.startswith(
        payment_standins.wechatpay_url + "/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx"
    )
    with pytest.raises(ProviderError, match="UNSUPPORTED_METHOD"):
        await wechatpay_provider.start(_request(PayMethod.ALIPAY_QR))


async def test_same_order_twice_is_the_same_prepay_and_a_changed_one_clashes(
    wechatpay_provider: WeChatPayProvider,
) -> None:
    req = _request()
    first = await wechatpay_provider.start(req)
    assert await wechatpay_provider.start(req) == first
    with pytest.raises(ProviderError) as exc:
        await wechatpay_provider.start(replace(req, amount_fen=999))
    assert (exc.value.code, exc.value.retryable) == ("OUT_TRADE_NO_USED", False)


async def test_paid_callback_verifies_decrypts_and_query_agrees(
    payment_standins: PaymentStandins,
    wechatpay_merchant: WeChatPayMerchantKeys,
    wechatpay_provider: WeChatPayProvider,
) -> None:
    req = _request()
    await wechatpay_provider.start(req)
    cb = _pay(payment_standins, req.out_trade_no, openid="oPayer1")["callback"]
    assert cb["headers"]["Wechatpay-Serial"] == wechatpay_merchant.config.platform_public_key_id
    event = wechatpay_provider.parse_callback(cb["headers"], cb["body"].encode(), now=_now())
    assert (event.kind, event.state, event.amount_fen) == ("payment", "paid", 1234)
    assert event.out_trade_no == req.out_trade_no
    assert event.merchant_no == wechatpay_merchant.config.mchid
    assert event.app_id == wechatpay_merchant.config.appid
    assert event.raw["resource"]["payer"] == {"openid": "oPayer1"}
    # parsing is pure: the same callback ten times gives the same event
    assert all(
        wechatpay_provider.parse_callback(cb["headers"], cb["body"].encode(), now=_now()) == event
        for _ in range(10)
    )
    status = await wechatpay_provider.query(req.out_trade_no)
    assert (status.state, status.provider_trade_no, status.payer_ref) == (
        "paid",
        event.provider_trade_no,
        "oPayer1",
    )
    assert status.paid_at == event.occurred_at


async def test_callback_delivered_to_notify_url_is_byte_for_byte_the_recorded_one(
    payment_standins: PaymentStandins,
    wechatpay_provider: WeChatPayProvider,
    notify_sink: NotifySink,
) -> None:
    req = _request(notify_url=notify_sink.notify_url("wx"))
    await wechatpay_provider.start(req)
    result = _pay(payment_standins, req.out_trade_no, deliver=True)
    assert result["acknowledged"] is True
    [got] = notify_sink.received
    assert got.body == result["callback"]["body"].encode()
    assert (
        got.headers["wechatpay-signature"] == result["callback"]["headers"]["Wechatpay-Signature"]
    )
    assert wechatpay_provider.parse_callback(got.headers, got.body, now=_now()).state == "paid"


async def test_unacknowledged_callback_is_retried(
    payment_standins: PaymentStandins,
    wechatpay_provider: WeChatPayProvider,
    notify_sink: NotifySink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(payment_standins.wechatpay, "retry_delays", (0.01, 0.01))
    notify_sink.status = 500
    req = _request(notify_url=notify_sink.notify_url())
    await wechatpay_provider.start(req)
    result = _pay(payment_standins, req.out_trade_no, deliver=True)
    assert result["acknowledged"] is False
    assert [a["status"] for a in result["callback"]["attempts"]] == [500, 500, 500]
    notify_sink.status = 200
    r = httpx.post(
        f"{payment_standins.wechatpay_url}/_standin/callbacks/{result['callback']['id']}/deliver"
    )
    assert r.json()["acknowledged"] is True
    assert len(notify_sink.received) == 4


async def test_close_is_idempotent_and_refuses_a_paid_trade(
    payment_standins: PaymentStandins, wechatpay_provider: WeChatPayProvider
) -> None:
    req = _request()
    await wechatpay_provider.start(req)
    await wechatpay_provider.close(req.out_trade_no)  # a signed 204
    await wechatpay_provider.close(req.out_trade_no)
    await wechatpay_provider.close(_no())  # never seen: nothing to close
    assert (await wechatpay_provider.query(req.out_trade_no)).state == "closed"
    r = httpx.post(
        f"{payment_standins.wechatpay_url}/_standin/trades/{req.out_trade_no}/pay", json={}
    )
    assert (r.status_code, r.json()["code"]) == (400, "ORDER_CLOSED")
    with pytest.raises(ProviderError, match="ORDER_CLOSED"):
        await wechatpay_provider.start(req)
    paid = _request()
    await wechatpay_provider.start(paid)
    _pay(payment_standins, paid.out_trade_no)
    with pytest.raises(ProviderError) as exc:
        await wechatpay_provider.close(paid.out_trade_no)
    assert exc.value.code == "ORDERPAID"


async def test_refund_completes_asynchronously_with_a_refund_callback(
    payment_standins: PaymentStandins,
    wechatpay_provider: WeChatPayProvider,
    notify_sink: NotifySink,
) -> None:
    req = _request()
    await wechatpay_provider.start(req)
    _pay(payment_standins, req.out_trade_no)
    refund = RefundRequest(
        req.out_trade_no, "RF" + req.out_trade_no, 234, 1234, "尺码不合适", notify_sink.notify_url()
    )
    result = await wechatpay_provider.refund(refund)
    assert result.state == "processing" and result.provider_refund_no
    assert await wechatpay_provider.refund(refund) == result  # same out_refund_no: same refund
    for _ in range(500):
        if notify_sink.received:
            break
        await asyncio.sleep(0.01)
    [got] = notify_sink.received
    event = wechatpay_provider.parse_callback(got.headers, got.body, now=_now())
    assert (event.kind, event.state, event.amount_fen) == ("refund", "refund_succeeded", 234)
    assert (event.out_refund_no, event.out_trade_no) == (refund.out_refund_no, req.out_trade_no)
    assert (await wechatpay_provider.query_refund(refund.out_refund_no)).state == "succeeded"
    assert (await wechatpay_provider.query(req.out_trade_no)).state == "refunded"


@pytest.mark.parametrize(
    ("refund_fen", "total_fen", "code"),
    [(1235, 1234, "INVALID_REQUEST"), (100, 1000, "PARAM_ERROR")],
)
async def test_refund_of_more_than_paid_or_with_a_wrong_total_is_refused(
    payment_standins: PaymentStandins,
    wechatpay_provider: WeChatPayProvider,
    refund_fen: int,
    total_fen: int,
    code: str,
) -> None:
    req = _request()
    await wechatpay_provider.start(req)
    _pay(payment_standins, req.out_trade_no)
    with pytest.raises(ProviderError) as exc:
        await wechatpay_provider.refund(
            RefundRequest(
                req.out_trade_no, _no(), refund_fen, total_fen, "", "http://127.0.0.1:9/n"
            )
        )
    assert exc.value.code == code


async def test_refund_that_fails_sends_refund_abnormal(
    payment_standins: PaymentStandins,
    wechatpay_merchant: WeChatPayMerchantKeys,
    wechatpay_provider: WeChatPayProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(payment_standins.wechatpay, "refund_delay", None)
    req = _request()
    await wechatpay_provider.start(req)
    _pay(payment_standins, req.out_trade_no)
    refund = RefundRequest(req.out_trade_no, _no(), 1234, 1234, "", "http://127.0.0.1:9/n")
    assert (await wechatpay_provider.refund(refund)).state == "processing"
    r = httpx.post(
        f"{payment_standins.wechatpay_url}/_standin/refunds/{refund.out_refund_no}/complete",
        json={"status": "ABNORMAL", "deliver": False},
    )
    cb = r.json()["callback"]
    event = wechatpay_provider.parse_callback(cb["headers"], cb["body"].encode(), now=_now())
    assert (event.kind, event.state, event.out_refund_no) == (
        "refund",
        "refund_failed",
        refund.out_refund_no,
    )
    assert (await wechatpay_provider.query_refund(refund.out_refund_no)).state == "failed"


# --- what WeChat refuses, and what we refuse ------------------------------------------


async def test_stand_in_refuses_a_stale_request(
    payment_standins: PaymentStandins,
    wechatpay_provider: WeChatPayProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(payment_standins.wechatpay, "skew_seconds", 301)
    with pytest.raises(ProviderError) as exc:
        await wechatpay_provider.start(_request())
    assert (exc.value.code, exc.value.retryable) == ("SIGN_ERROR", False)


@pytest.mark.parametrize("change", ["serial", "key"])
async def test_stand_in_refuses_a_wrong_serial_or_key(
    payment_standins: PaymentStandins, wechatpay_merchant: WeChatPayMerchantKeys, change: str
) -> None:
    config = wechatpay_merchant.config
    if change == "serial":
        config = replace(config, merchant_serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1")
    else:
        config = replace(config, merchant_private_key_pem=pooled_rsa_pem("someone-else")[0])
    provider = payment_standins.wechatpay_provider(replace(wechatpay_merchant, config=config))
    with pytest.raises(ProviderError, match="SIGN_ERROR"):
        await provider.query(_no())


async def test_answer_not_signed_by_our_platform_key_is_refused(
    payment_standins: PaymentStandins, wechatpay_merchant: WeChatPayMerchantKeys
) -> None:
    config = replace(
        wechatpay_merchant.config, platform_public_key_pem=pooled_rsa_pem("someone-else")[1]
    )
    provider = payment_standins.wechatpay_provider(replace(wechatpay_merchant, config=config))
    with pytest.raises(ProviderError) as exc:
        await provider.start(_request())
    assert (exc.value.code, exc.value.retryable) == ("RESPONSE_SIGNATURE_INVALID", True)


async def test_unreachable_gateway_is_a_retryable_error(
    wechatpay_merchant: WeChatPayMerchantKeys,
) -> None:
    provider = WeChatPayProvider(
        wechatpay_merchant.config, base_url="http://127.0.0.1:9", timeout_seconds=2
    )
    with pytest.raises(ProviderError) as exc:
        await provider.query(_no())
    assert (exc.value.code, exc.value.retryable) == ("NETWORK_ERROR", True)


async def _paid_callback(
    standins: PaymentStandins, provider: WeChatPayProvider, **body: Any
) -> dict[str, Any]:
    req = _request()
    await provider.start(req)
    callback: dict[str, Any] = _pay(standins, req.out_trade_no, **body)["callback"]
    return callback


async def test_stale_callback_is_rejected(
    payment_standins: PaymentStandins, wechatpay_provider: WeChatPayProvider
) -> None:
    stamp = int(_now().timestamp()) - 301
    cb = await _paid_callback(payment_standins, wechatpay_provider, timestamp=stamp)
    with pytest.raises(CallbackRejected, match="window"):
        wechatpay_provider.parse_callback(cb["headers"], cb["body"].encode(), now=_now())


async def test_signed_callback_with_tampered_ciphertext_does_not_decrypt(
    payment_standins: PaymentStandins,
    wechatpay_merchant: WeChatPayMerchantKeys,
    wechatpay_provider: WeChatPayProvider,
) -> None:
    cb = await _paid_callback(payment_standins, wechatpay_provider)
    envelope = json.loads(cb["body"])
    raw = bytearray(base64.b64decode(envelope["resource"]["ciphertext"]))
    raw[5] ^= 1
    envelope["resource"]["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    merchant = payment_standins.wechatpay.merchants[wechatpay_merchant.config.mchid]
    headers = payment_standins.wechatpay.signed_headers(merchant, body)  # genuinely re-signed
    with pytest.raises(CallbackRejected, match="decrypt"):
        wechatpay_provider.parse_callback(headers, body.encode(), now=_now())
    with pytest.raises(CallbackRejected, match="bad signature"):  # and unsigned tampering
        wechatpay_provider.parse_callback(cb["headers"], body.encode(), now=_now())


async def test_callback_of_another_merchant_is_rejected(
    payment_standins: PaymentStandins, wechatpay_provider: WeChatPayProvider
) -> None:
    other_keys = payment_standins.new_wechatpay_merchant()
    other = payment_standins.wechatpay_provider(other_keys)
    cb = await _paid_callback(payment_standins, other)
    with pytest.raises(CallbackRejected, match="unknown serial"):
        wechatpay_provider.parse_callback(cb["headers"], cb["body"].encode(), now=_now())
    forged = {**cb["headers"], "Wechatpay-Serial": wechatpay_provider.config.platform_public_key_id}
    with pytest.raises(CallbackRejected, match="bad signature"):
        wechatpay_provider.parse_callback(forged, cb["body"].encode(), now=_now())


async def test_a_genuine_callback_carries_exactly_the_amount_signed(
    payment_standins: PaymentStandins,
    wechatpay_merchant: WeChatPayMerchantKeys,
    wechatpay_provider: WeChatPayProvider,
) -> None:
    """A wrong amount is the payments service's to refuse; the adapter must report it as is."""
    req = _request()
    await wechatpay_provider.start(req)
    resource = {
        "appid": wechatpay_merchant.config.appid,
        "mchid": wechatpay_merchant.config.mchid,
        "out_trade_no": req.out_trade_no,
        "transaction_id": "4200000000000000000000000001",
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "success_time": "2026-11-23T20:00:00+08:00",
        "payer": {"openid": "o1"},
        "amount": {"total": 1, "payer_total": 1, "currency": "CNY", "payer_currency": "CNY"},
    }
    r = httpx.post(
        f"{payment_standins.wechatpay_url}/_standin/callbacks",
        json={
            "mchid": wechatpay_merchant.config.mchid,
            "event_type": "TRANSACTION.SUCCESS",
            "resource": resource,
            "notify_url": req.notify_url,
        },
    )
    cb = r.json()["callback"]
    event = wechatpay_provider.parse_callback(cb["headers"], cb["body"].encode(), now=_now())
    assert (event.state, event.amount_fen) == ("paid", 1)
    assert event.occurred_at == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_replies_are_what_wechat_expects(wechatpay_provider: WeChatPayProvider) -> None:
    assert wechatpay_provider.accepted().status_code == 204
    rejected = wechatpay_provider.rejected("bad signature")
    assert rejected.status_code == 400 and json.loads(rejected.body)["code"] == "FAIL"
