"""The Alipay stand-in as a server: checked with our own RSA2 rule, not the SDK."""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime
from typing import Any

import httpx

from loopmall.core.clock import SHANGHAI
from loopmall.integrations.alipay import AlipayProvider, signing
from loopmall.standins.harness import PaymentStandins
from loopmall.standins.keys import AlipayAppKeys
from tests.standins.fixtures import NotifySink


def _params(keys: AlipayAppKeys, method: str, biz: dict[str, Any], **extra: str) -> dict[str, str]:
    params = {
        "app_id": keys.config.app_id,
        "method": method,
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
        "version": "1.0",
        "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        **extra,
    }
    params["sign"] = signing.rsa_sign(
        keys.config.app_private_key_pem, signing.content_to_sign(params)
    )
    return params


def _inner_and_sign(text: str, key: str) -> tuple[str, str]:
    m = re.fullmatch(r'\{"' + key + r'":(\{.*\}),"sign":"([^"]+)"\}', text)
    assert m, text
    return m.group(1), m.group(2)


def test_official_sdk_style_post_is_accepted_and_the_answer_signed_after_the_object(
    payment_standins: PaymentStandins, alipay_app: AlipayAppKeys
) -> None:
    params = _params(
        alipay_app,
        "alipay.trade.precreate",
        {"out_trade_no": "LM" + secrets.token_hex(6), "total_amount": "0.01", "subject": "测试"},
        notify_url="http://127.0.0.1:9/n",
    )
    biz = params.pop("biz_content")
    r = httpx.post(payment_standins.alipay_gateway_url, params=params, data={"biz_content": biz})
    inner, sign = _inner_and_sign(r.text, "alipay_trade_precreate_response")
    assert signing.rsa_verify(alipay_app.config.alipay_public_key_pem, inner, sign)
    assert json.loads(inner)["code"] == "10000"


def test_bad_requests_are_refused_unsigned(
    payment_standins: PaymentStandins, alipay_app: AlipayAppKeys
) -> None:
    params = _params(alipay_app, "alipay.trade.query", {"out_trade_no": "x"})
    params["biz_content"] = '{"out_trade_no":"y"}'
    r = httpx.get(payment_standins.alipay_gateway_url, params=params)
    body = r.json()
    assert "sign" not in body
    assert body["alipay_trade_query_response"]["sub_code"] == "isv.invalid-signature"
    params = _params(alipay_app, "alipay.trade.pay.nothing", {})
    inner, _ = _inner_and_sign(
        httpx.get(payment_standins.alipay_gateway_url, params=params).text,
        "alipay_trade_pay_nothing_response",
    )
    assert json.loads(inner)["sub_code"] == "isv.invalid-method"


async def test_payer_opens_the_qr_code_confirms_and_the_notify_is_delivered(
    alipay_provider: AlipayProvider, notify_sink: NotifySink
) -> None:
    from datetime import UTC, timedelta

    from loopmall.integrations.payment_provider import PayMethod, PayRequest

    notify_sink.status, notify_sink.body = 200, b"success"
    req = PayRequest(
        out_trade_no="LM" + secrets.token_hex(6),
        amount_fen=1,
        description="一分钱",
        notify_url=notify_sink.notify_url(),
        method=PayMethod.ALIPAY_QR,
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )
    start = await alipay_provider.start(req)
    assert start.qr_content is not None
    async with httpx.AsyncClient() as client:
        assert "¥0.01" in (await client.get(start.qr_content)).text
        assert "支付成功" in (await client.post(start.qr_content)).text
    [got] = notify_sink.received
    event = alipay_provider.parse_callback(got.headers, got.body, now=datetime.now(UTC))
    assert (event.state, event.amount_fen) == ("paid", 1)


def test_built_notify_leaves_out_empty_fields_so_the_sdk_verifies_it(
    payment_standins: PaymentStandins, alipay_app: AlipayAppKeys, alipay_provider: AlipayProvider
) -> None:
    r = httpx.post(
        f"{payment_standins.alipay_url}/_standin/notifies",
        json={
            "app_id": alipay_app.config.app_id,
            "notify_url": "http://127.0.0.1:9/n",
            "fields": {
                "app_id": alipay_app.config.app_id,
                "notify_id": "n2",
                "out_trade_no": "LMX1",
                "trade_status": "TRADE_SUCCESS",
                "total_amount": "3.00",
                "buyer_logon_id": "",
                "seller_id": alipay_app.config.seller_id,
                "notify_type": "trade_status_sync",
            },
        },
    )
    cb = r.json()["callback"]
    assert "buyer_logon_id" not in cb["body"]
    event = alipay_provider.parse_callback({}, cb["body"].encode(), now=datetime.now(SHANGHAI))
    assert (event.state, event.amount_fen, event.out_trade_no) == ("paid", 300, "LMX1")
