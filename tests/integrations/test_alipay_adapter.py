"""The Alipay adapter (python-alipay-sdk underneath) against the live Alipay stand-in."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from alipay import AliPay
from alipay.exceptions import AliPayException

from loopmall.integrations.alipay import AlipayProvider
from loopmall.integrations.payment_provider import (
    CallbackRejected,
    PayMethod,
    PayRequest,
    ProviderError,
    RefundRequest,
)
from loopmall.standins.harness import PaymentStandins
from loopmall.standins.keys import AlipayAppKeys, pooled_rsa_pem
from tests.standins.fixtures import NotifySink


def _no() -> str:
    return "LM" + secrets.token_hex(8).upper()


def _request(**kw: Any) -> PayRequest:
    values: dict[str, Any] = {
        "out_trade_no": _no(),
        "amount_fen": 59_90,
        "description": "门店收款 · 导购 小王",
        "notify_url": "http://127.0.0.1:9/api/v1/payments/callbacks/alipay/acc1",
        "method": PayMethod.ALIPAY_QR,
        "expires_at": datetime.now(UTC) + timedelta(minutes=15),
        **kw,
    }
    return PayRequest(**values)


def _now() -> datetime:
    return datetime.now(UTC)


def _pay(standins: PaymentStandins, out_trade_no: str, **body: Any) -> dict[str, Any]:
    r = httpx.post(
        f"{standins.alipay_url}/_standin/trades/{out_trade_no}/pay", json={"deliver": False, **body}
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def test_precreate_gives_a_qr_code_that_opens_the_payer_page(
    payment_standins: PaymentStandins, alipay_provider: AlipayProvider
) -> None:
    req = _request()
    start = await alipay_provider.start(req)
    assert start.qr_content is not None
    assert start.qr_content.startswith(payment_standins.alipay_url + "/qr/bax0")
    page = httpx.get(start.qr_content)
    assert "¥59.90" in page.text and "确认支付" in page.text
    assert (await alipay_provider.query(req.out_trade_no)).state == "unpaid"
    assert await alipay_provider.start(req) == start  # the same order again: the same code
    with pytest.raises(ProviderError, match=r"ACQ\.CONTEXT_INCONSISTENT"):
        await alipay_provider.start(replace(req, amount_fen=1))
    with pytest.raises(ProviderError, match="UNSUPPORTED_METHOD"):
        await alipay_provider.start(replace(req, method=PayMethod.WECHAT_NATIVE))


async def test_paid_notify_verifies_and_query_agrees(
    payment_standins: PaymentStandins, alipay_app: AlipayAppKeys, alipay_provider: AlipayProvider
) -> None:
    req = _request()
    await alipay_provider.start(req)
    cb = _pay(payment_standins, req.out_trade_no, buyer_id="2088102534368455")["callback"]
    assert cb["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    event = alipay_provider.parse_callback(cb["headers"], cb["body"].encode(), now=_now())
    assert (event.kind, event.state, event.amount_fen) == ("payment", "paid", 5990)
    assert (event.app_id, event.merchant_no) == (
        alipay_app.config.app_id,
        alipay_app.config.seller_id,
    )
    assert event.raw["subject"] == "门店收款 · 导购 小王"
    status = await alipay_provider.query(req.out_trade_no)
    assert (status.state, status.amount_fen, status.payer_ref) == ("paid", 5990, "2088102534368455")
    assert status.provider_trade_no == event.provider_trade_no
    assert status.paid_at == event.occurred_at


async def test_notify_is_acknowledged_only_by_the_word_success(
    payment_standins: PaymentStandins, alipay_provider: AlipayProvider, notify_sink: NotifySink
) -> None:
    notify_sink.status, notify_sink.body = 200, b"fail"
    req = _request(notify_url=notify_sink.notify_url("ali"))
    await alipay_provider.start(req)
    result = _pay(payment_standins, req.out_trade_no, deliver=True)
    assert result["acknowledged"] is False
    [got] = notify_sink.received
    assert got.body == result["callback"]["body"].encode()
    assert alipay_provider.parse_callback(got.headers, got.body, now=_now()).state == "paid"
    reply = alipay_provider.accepted()
    notify_sink.status, notify_sink.body = reply.status_code, reply.body
    r = httpx.post(
        f"{payment_standins.alipay_url}/_standin/callbacks/{result['callback']['id']}/deliver"
    )
    assert r.json()["acknowledged"] is True
    assert alipay_provider.rejected("x").body == b"fail"


async def test_close_is_idempotent_and_refuses_a_paid_trade(
    payment_standins: PaymentStandins, alipay_provider: AlipayProvider
) -> None:
    req = _request()
    start = await alipay_provider.start(req)
    await alipay_provider.close(req.out_trade_no)
    await alipay_provider.close(req.out_trade_no)
    await alipay_provider.close(_no())
    assert (await alipay_provider.query(req.out_trade_no)).state == "closed"
    assert start.qr_content is not None
    assert "该交易已支付或已关闭" in httpx.get(start.qr_content).text
    r = httpx.post(f"{payment_standins.alipay_url}/_standin/trades/{req.out_trade_no}/pay", json={})
    assert r.status_code == 400
    paid = _request()
    await alipay_provider.start(paid)
    _pay(payment_standins, paid.out_trade_no)
    with pytest.raises(ProviderError) as exc:
        await alipay_provider.close(paid.out_trade_no)
    assert (exc.value.code, exc.value.retryable) == ("ACQ.TRADE_STATUS_ERROR", False)


async def test_refund_is_synchronous_idempotent_and_notified(
    payment_standins: PaymentStandins, alipay_provider: AlipayProvider, notify_sink: NotifySink
) -> None:
    notify_sink.status, notify_sink.body = 200, b"success"
    req = _request(notify_url=notify_sink.notify_url())
    await alipay_provider.start(req)
    _pay(payment_standins, req.out_trade_no)
    refund = RefundRequest(
        req.out_trade_no, "RF" + req.out_trade_no, 990, 5990, "退一件", req.notify_url
    )
    result = await alipay_provider.refund(refund)
    assert result.state == "succeeded"
    assert await alipay_provider.refund(refund) == result  # same out_request_no: no second refund
    assert (
        await alipay_provider.query_refund(req.out_trade_no, refund.out_refund_no)
    ).state == "succeeded"
    assert (await alipay_provider.query_refund(req.out_trade_no, "nope")).state == "processing"
    for _ in range(500):
        if notify_sink.received:
            break
        await asyncio.sleep(0.01)
    [got] = notify_sink.received
    event = alipay_provider.parse_callback(got.headers, got.body, now=_now())
    assert (event.kind, event.state, event.out_refund_no, event.amount_fen) == (
        "refund",
        "refund_succeeded",
        refund.out_refund_no,
        990,
    )
    with pytest.raises(ProviderError, match=r"ACQ\.REFUND_AMT_NOT_EQUAL_TOTAL"):
        await alipay_provider.refund(replace(refund, out_refund_no=_no(), refund_fen=5001))
    await alipay_provider.refund(replace(refund, out_refund_no=_no(), refund_fen=5000))
    assert (await alipay_provider.query(req.out_trade_no)).state == "closed"  # fully refunded


async def test_stand_in_refuses_a_stale_timestamp(
    payment_standins: PaymentStandins,
    alipay_provider: AlipayProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(payment_standins.alipay, "skew_seconds", 901)
    with pytest.raises(ProviderError) as exc:
        await alipay_provider.start(_request())
    assert exc.value.code == "isv.invalid-timestamp"


def test_the_bare_sdk_stamps_local_time_which_alipay_refuses_off_beijing(
    payment_standins: PaymentStandins, alipay_app: AlipayAppKeys
) -> None:
    """Why the adapter overrides build_body: the SDK's timestamp is the server's local time."""
    if abs(time.localtime().tm_gmtoff - 8 * 3600) <= 900:
        pytest.skip("this machine runs on Beijing time")
    sdk = AliPay(
        appid=alipay_app.config.app_id,
        app_private_key_string=alipay_app.config.app_private_key_pem,
        alipay_public_key_string=alipay_app.config.alipay_public_key_pem,
    )
    sdk._gateway = payment_standins.alipay_gateway_url
    with pytest.raises(AliPayException, match=r"isv\.invalid-timestamp"):
        sdk.api_alipay_trade_query(out_trade_no=_no())


@pytest.mark.parametrize(
    ("change", "code"), [("key", "isv.invalid-signature"), ("app", "isv.invalid-app-id")]
)
async def test_stand_in_refuses_a_wrong_key_or_app(
    payment_standins: PaymentStandins, alipay_app: AlipayAppKeys, change: str, code: str
) -> None:
    if change == "key":
        config = replace(alipay_app.config, app_private_key_pem=pooled_rsa_pem("someone-else")[0])
    else:
        config = replace(alipay_app.config, app_id="2021009999999999")
    provider = payment_standins.alipay_provider(replace(alipay_app, config=config))
    with pytest.raises(ProviderError) as exc:
        await provider.query(_no())
    assert exc.value.code == code


async def test_answer_not_signed_by_alipay_is_refused(
    payment_standins: PaymentStandins, alipay_app: AlipayAppKeys
) -> None:
    config = replace(alipay_app.config, alipay_public_key_pem=pooled_rsa_pem("someone-else")[1])
    provider = payment_standins.alipay_provider(replace(alipay_app, config=config))
    with pytest.raises(ProviderError) as exc:
        await provider.query(_no())
    assert (exc.value.code, exc.value.retryable) == ("RESPONSE_SIGNATURE_INVALID", True)


async def test_unreachable_gateway_is_a_retryable_error(alipay_app: AlipayAppKeys) -> None:
    provider = AlipayProvider(
        alipay_app.config, gateway_url="http://127.0.0.1:9/gateway.do", timeout_seconds=2
    )
    with pytest.raises(ProviderError) as exc:
        await provider.query(_no())
    assert (exc.value.code, exc.value.retryable) == ("NETWORK_ERROR", True)


async def test_notify_of_another_app_or_tampered_is_rejected(
    payment_standins: PaymentStandins, alipay_provider: AlipayProvider
) -> None:
    other_keys = payment_standins.new_alipay_app()
    other = payment_standins.alipay_provider(other_keys)
    req = _request()
    await other.start(req)
    cb = _pay(payment_standins, req.out_trade_no)["callback"]
    with pytest.raises(CallbackRejected, match="bad signature"):  # another Alipay key pair
        alipay_provider.parse_callback(cb["headers"], cb["body"].encode(), now=_now())
    form = dict(parse_qsl(cb["body"]))
    form["total_amount"] = "0.01"
    with pytest.raises(CallbackRejected, match="bad signature"):
        other.parse_callback({}, urlencode(form).encode(), now=_now())


async def test_genuine_notify_for_another_app_is_rejected(
    payment_standins: PaymentStandins, alipay_app: AlipayAppKeys, alipay_provider: AlipayProvider
) -> None:
    """Signed by our Alipay key but naming another app_id (a notify replayed across apps)."""
    r = httpx.post(
        f"{payment_standins.alipay_url}/_standin/notifies",
        json={
            "app_id": alipay_app.config.app_id,
            "notify_url": "http://127.0.0.1:9/n",
            "fields": {
                "app_id": "2021000000000999",
                "notify_id": "n1",
                "out_trade_no": _no(),
                "trade_status": "TRADE_SUCCESS",
                "total_amount": "1.00",
                "seller_id": alipay_app.config.seller_id,
                "notify_type": "trade_status_sync",
            },
        },
    )
    cb = r.json()["callback"]
    with pytest.raises(CallbackRejected, match="another app"):
        alipay_provider.parse_callback({}, cb["body"].encode(), now=_now())
