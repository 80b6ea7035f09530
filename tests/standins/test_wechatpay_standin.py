"""The WeChat Pay stand-in as a server: checked with our own primitives, not the SDK."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from loopmall.integrations.payment_provider import CallbackRejected, PayMethod, PayRequest
from loopmall.integrations.wechatpay import WeChatPayProvider, signing
from loopmall.standins.harness import PaymentStandins
from loopmall.standins.keys import WeChatPayMerchantKeys, new_wechatpay_merchant
from tests.standins.fixtures import NotifySink


def _signed(
    keys: WeChatPayMerchantKeys, method: str, url: str, body: str = "", *, ts: int | None = None
) -> dict[str, str]:
    stamp = str(ts if ts is not None else int(time.time()))
    nonce = secrets.token_hex(16).upper()
    message = signing.request_signing_string(method, url, stamp, nonce, body)
    signature = signing.rsa_sign(keys.config.merchant_private_key_pem, message)
    auth = signing.authorization_header(
        mchid=keys.config.mchid,
        serial_no=keys.config.merchant_serial_no,
        nonce=nonce,
        timestamp=stamp,
        signature=signature,
    )
    return {"Authorization": auth, "Content-Type": "application/json", "Accept": "application/json"}


def _order(
    keys: WeChatPayMerchantKeys, notify_url: str = "http://127.0.0.1:9/n", **kw: Any
) -> dict[str, Any]:
    return {
        "appid": keys.config.appid,
        "mchid": keys.config.mchid,
        "description": "测试",
        "out_trade_no": "LM" + secrets.token_hex(6),
        "notify_url": notify_url,
        "amount": {"total": 100, "currency": "CNY"},
        **kw,
    }


def _verified(keys: WeChatPayMerchantKeys, r: httpx.Response) -> bool:
    message = signing.response_signing_string(
        r.headers["Wechatpay-Timestamp"], r.headers["Wechatpay-Nonce"], r.text
    )
    return (
        r.headers["Wechatpay-Serial"] == keys.config.platform_public_key_id
        and r.headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
        and signing.rsa_verify(
            keys.config.platform_public_key_pem, message, r.headers["Wechatpay-Signature"]
        )
    )


def _post(
    base: str, keys: WeChatPayMerchantKeys, path: str, data: dict[str, Any], **kw: Any
) -> httpx.Response:
    body = json.dumps(data)
    return httpx.post(base + path, content=body, headers=_signed(keys, "POST", path, body, **kw))


def test_signed_requests_get_signed_answers_including_the_empty_204(
    payment_standins: PaymentStandins, wechatpay_merchant: WeChatPayMerchantKeys
) -> None:
    base, keys = payment_standins.wechatpay_url, wechatpay_merchant
    order = _order(keys)
    r = _post(base, keys, "/v3/pay/transactions/native", order)
    assert r.status_code == 200 and _verified(keys, r)
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    path = f"/v3/pay/transactions/out-trade-no/{order['out_trade_no']}?mchid={keys.config.mchid}"
    r = httpx.get(base + path, headers=_signed(keys, "GET", path))
    assert r.status_code == 200 and _verified(keys, r) and r.json()["trade_state"] == "NOTPAY"
    r = _post(
        base,
        keys,
        f"/v3/pay/transactions/out-trade-no/{order['out_trade_no']}/close",
        {"mchid": keys.config.mchid},
    )
    assert (r.status_code, r.content) == (204, b"") and _verified(keys, r)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("no_auth", "格式错误"),
        ("body", "签名错误"),
        ("stale", "相差过大"),
        ("future", "相差过大"),
        ("serial", "序列号"),
        ("mchid", "商户号不存在"),
    ],
)
def test_requests_that_wechat_would_refuse_get_401_sign_error(
    payment_standins: PaymentStandins,
    wechatpay_merchant: WeChatPayMerchantKeys,
    tamper: str,
    message: str,
) -> None:
    base, keys = payment_standins.wechatpay_url, wechatpay_merchant
    path = "/v3/pay/transactions/native"
    body = json.dumps(_order(keys))
    headers = _signed(keys, "POST", path, body)
    if tamper == "no_auth":
        del headers["Authorization"]
    elif tamper == "body":
        body = body.replace('"total": 100', '"total": 1')
    elif tamper in ("stale", "future"):
        # A minute past the 300-second window: a request signed one second into the future
        # passed when the busy machine took a second to check it.
        off = 360
        headers = _signed(
            keys, "POST", path, body, ts=int(time.time()) + (-off if tamper == "stale" else off)
        )
    elif tamper == "serial":
        headers["Authorization"] = headers["Authorization"].replace(
            keys.config.merchant_serial_no, "0" * 40
        )
    else:
        headers["Authorization"] = headers["Authorization"].replace(
            f'mchid="{keys.config.mchid}"', 'mchid="1"'
        )
    r = httpx.post(base + path, content=body, headers=headers)
    assert (r.status_code, r.json()["code"]) == (401, "SIGN_ERROR")
    assert message in r.json()["message"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"notify_url": "http://127.0.0.1:9/n?order=1"}, "PARAM_ERROR"),
        ({"out_trade_no": "short"}, "PARAM_ERROR"),
        ({"amount": {"total": 0, "currency": "CNY"}}, "PARAM_ERROR"),
        ({"appid": "wx0000000000000000"}, "APPID_MCHID_NOT_MATCH"),
    ],
)
def test_orders_are_validated(
    payment_standins: PaymentStandins,
    wechatpay_merchant: WeChatPayMerchantKeys,
    change: dict[str, Any],
    code: str,
) -> None:
    r = _post(
        payment_standins.wechatpay_url,
        wechatpay_merchant,
        "/v3/pay/transactions/native",
        _order(wechatpay_merchant, **change),
    )
    assert (r.status_code, r.json()["code"]) == (400, code)


def test_callback_is_built_as_wechat_builds_it(
    payment_standins: PaymentStandins, wechatpay_merchant: WeChatPayMerchantKeys
) -> None:
    order = _order(wechatpay_merchant)
    _post(payment_standins.wechatpay_url, wechatpay_merchant, "/v3/pay/transactions/native", order)
    cb = httpx.post(
        f"{payment_standins.wechatpay_url}/_standin/trades/{order['out_trade_no']}/pay",
        json={"deliver": False},
    ).json()["callback"]
    assert cb["body"] == json.dumps(
        json.loads(cb["body"]), ensure_ascii=False, separators=(",", ":")
    )
    envelope = json.loads(cb["body"])
    assert list(envelope) == [
        "id",
        "create_time",
        "resource_type",
        "event_type",
        "summary",
        "resource",
    ]
    res = envelope["resource"]
    assert (res["algorithm"], res["associated_data"], res["original_type"]) == (
        "AEAD_AES_256_GCM",
        "transaction",
        "transaction",
    )
    assert len(res["nonce"]) == 12
    plain = json.loads(
        signing.aead_decrypt(
            wechatpay_merchant.config.apiv3_key, res["nonce"], "transaction", res["ciphertext"]
        )
    )
    assert (plain["trade_state"], plain["amount"]["total"]) == ("SUCCESS", 100)
    h = cb["headers"]
    message = signing.response_signing_string(
        h["Wechatpay-Timestamp"], h["Wechatpay-Nonce"], cb["body"]
    )
    assert signing.rsa_verify(
        wechatpay_merchant.config.platform_public_key_pem, message, h["Wechatpay-Signature"]
    )
    listed = httpx.get(
        f"{payment_standins.wechatpay_url}/_standin/callbacks",
        params={"out_trade_no": order["out_trade_no"]},
    ).json()
    assert [c["id"] for c in listed["callbacks"]] == [cb["id"]]


async def test_payer_scans_native_code_confirms_and_the_callback_is_delivered(
    payment_standins: PaymentStandins,
    wechatpay_provider: WeChatPayProvider,
    notify_sink: NotifySink,
) -> None:
    req = PayRequest(
        out_trade_no="LM" + secrets.token_hex(6),
        amount_fen=8800,
        description="门店收款",
        notify_url=notify_sink.notify_url(),
        method=PayMethod.WECHAT_NATIVE,
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )
    start = await wechatpay_provider.start(req)
    assert start.qr_content is not None
    async with httpx.AsyncClient(
        base_url=payment_standins.wechatpay_url, follow_redirects=True
    ) as client:
        page = await client.get(f"/_standin/scan?code_url={quote(start.qr_content)}")
        assert (
            "¥88.00" in page.text and "Loopmall 测试商户" in page.text and "确认支付" in page.text
        )
        done = await client.post(page.url.path)
        assert "支付成功" in done.text
        again = await client.get(page.url.path)
        assert "已支付" in again.text and "确认支付" not in again.text
    [got] = notify_sink.received
    event = wechatpay_provider.parse_callback(got.headers, got.body, now=datetime.now(UTC))
    assert (event.state, event.amount_fen, event.out_trade_no) == ("paid", 8800, req.out_trade_no)


async def test_h5_cashier_returns_to_the_redirect_url(
    payment_standins: PaymentStandins, wechatpay_provider: WeChatPayProvider
) -> None:
    req = PayRequest(
        out_trade_no="LM" + secrets.token_hex(6),
        amount_fen=100,
        description="H5",
        notify_url="http://127.0.0.1:9/n",
        method=PayMethod.WECHAT_H5,
        client_ip="198.51.100.1",
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )
    start = await wechatpay_provider.start(req)
    back = "http://127.0.0.1:8000/m/shop/orders/abc"
    async with httpx.AsyncClient() as client:
        page = await client.get(f"{start.redirect_url}&redirect_url={quote(back)}")
        assert 'name="redirect_url"' in page.text
        done = await client.post(
            f"{payment_standins.wechatpay_url}/_standin/pay/{page.url.params['prepay_id']}",
            data={"redirect_url": back},
        )
    assert (done.status_code, done.headers["location"]) == (303, back)
    assert (await wechatpay_provider.query(req.out_trade_no)).state == "paid"


def test_expired_trade_cannot_be_paid(
    payment_standins: PaymentStandins, wechatpay_merchant: WeChatPayMerchantKeys
) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="seconds")
    order = _order(wechatpay_merchant, time_expire=past)
    assert (
        _post(
            payment_standins.wechatpay_url, wechatpay_merchant, "/v3/pay/transactions/native", order
        ).status_code
        == 200
    )
    url = f"{payment_standins.wechatpay_url}/_standin/trades/{order['out_trade_no']}/pay"
    r = httpx.post(url, json={"deliver": False})
    assert (r.status_code, r.json()["message"]) == (400, "订单已过期")
    assert httpx.post(url, json={"deliver": False, "ignore_expiry": True}).status_code == 200


def test_merchant_registered_over_http(payment_standins: PaymentStandins) -> None:
    keys = new_wechatpay_merchant("1900000777", "wx7777777777777777", slot="http-registered")
    c = keys.config
    r = httpx.post(
        f"{payment_standins.wechatpay_url}/_standin/merchants",
        json={
            "mchid": c.mchid,
            "appid": c.appid,
            "apiv3_key": c.apiv3_key,
            "merchant_serial_no": c.merchant_serial_no,
            "platform_public_key_id": c.platform_public_key_id,
            "merchant_public_key_pem": keys.merchant_public_key_pem,
            "platform_private_key_pem": keys.platform_private_key_pem,
            "name": "七号店",
        },
    )
    assert r.json() == {"ok": True}
    order = _order(keys)
    r = _post(payment_standins.wechatpay_url, keys, "/v3/pay/transactions/native", order)
    assert r.status_code == 200 and _verified(keys, r)


async def test_signature_probe_is_rejected(
    payment_standins: PaymentStandins,
    wechatpay_merchant: WeChatPayMerchantKeys,
    wechatpay_provider: WeChatPayProvider,
) -> None:
    resource = {"mchid": wechatpay_merchant.config.mchid, "out_trade_no": "LMPROBE0001"}
    body = {
        "mchid": wechatpay_merchant.config.mchid,
        "event_type": "TRANSACTION.SUCCESS",
        "resource": resource,
        "notify_url": "http://127.0.0.1:9/n",
    }
    url = f"{payment_standins.wechatpay_url}/_standin/callbacks"
    genuine = httpx.post(url, json=body).json()["callback"]
    probe = httpx.post(url, json={**body, "signature_probe": True}).json()["callback"]
    assert probe["headers"]["Wechatpay-Signature"].startswith("WECHATPAY/SIGNTEST/")
    now = datetime.now(UTC)
    assert wechatpay_provider.parse_callback(genuine["headers"], genuine["body"].encode(), now=now)
    with pytest.raises(CallbackRejected, match="bad signature"):
        wechatpay_provider.parse_callback(probe["headers"], probe["body"].encode(), now=now)
