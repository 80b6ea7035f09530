"""Our WeChat Pay v3 signing, verification and AEAD agree exactly with Tencent's vectors,
and so does the adapter (through wechatpayv3) on the genuine notification."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from wechatpayv3 import utils as sdk

from loopmall.integrations.payment_provider import CallbackRejected
from loopmall.integrations.wechatpay import WeChatPayConfig, WeChatPayProvider, signing
from loopmall.standins.keys import pooled_rsa_pem

from .vectors import load


@pytest.fixture(scope="module")
def v() -> dict[str, Any]:
    return load("wechatpay_v3.json")


def _platform_public_pem(cert_pem: str) -> str:
    key = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _provider(n: dict[str, Any], **kw: Any) -> WeChatPayProvider:
    config = WeChatPayConfig(
        mchid="1234567890",
        appid="054aa7d7a2a54ab5898df65bd96f001c",
        apiv3_key=n["apiv3_key"],
        merchant_private_key_pem=pooled_rsa_pem("conformance")[0],
        merchant_serial_no="0123456789ABC",
        platform_public_key_pem=_platform_public_pem(n["platform_certificate_pem"]),
        platform_public_key_id=kw.pop("key_id", n["platform_serial_hex"]),
    )
    return WeChatPayProvider(config, base_url="http://127.0.0.1:9", **kw)


def _headers(n: dict[str, Any]) -> dict[str, str]:
    # wechatpayv3 insists on the type header, which the Go test omits (PROTOCOLS §5 V1)
    return {**n["headers"], "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"}


def _at(n: dict[str, Any], delta: int = 0) -> datetime:
    return datetime.fromtimestamp(int(n["headers"]["Wechatpay-Timestamp"]) + delta, UTC)


def test_notify_v1_through_the_adapter(v: dict[str, Any]) -> None:
    n = v["notify_v1"]
    event = _provider(n).parse_callback(_headers(n), n["body"].encode(), now=_at(n))
    assert event.raw["resource"] == json.loads(n["expected_plaintext"])
    assert event.provider_event_id == "3119dfba-e649-5eec-ab1e-3412bc4d2e17"
    assert event.raw["event_type"] == "PAYSCORE.USER_OPEN_SERVICE"
    assert (event.kind, event.state) == ("payment", "other")  # not a payment event: ignored


def test_notify_v1_signature_and_plaintext_with_our_primitives(v: dict[str, Any]) -> None:
    n = v["notify_v1"]
    h = n["headers"]
    message = signing.response_signing_string(
        h["Wechatpay-Timestamp"], h["Wechatpay-Nonce"], n["body"]
    )
    assert signing.rsa_verify(n["platform_certificate_pem"], message, h["Wechatpay-Signature"])
    # PKCS#1 v1.5 is deterministic: the stand-in's signer reproduces WeChat's signature
    assert signing.rsa_sign(n["platform_private_key_pem"], message) == h["Wechatpay-Signature"]
    r = json.loads(n["body"])["resource"]
    plain = signing.aead_decrypt(n["apiv3_key"], r["nonce"], r["associated_data"], r["ciphertext"])
    assert plain == n["expected_plaintext"]
    assert (
        signing.aead_encrypt(n["apiv3_key"], r["nonce"], r["associated_data"], plain)
        == r["ciphertext"]
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h, b: (h, b.replace('"签约成功"', '"签约失败"')), "bad signature"),
        (lambda h, b: (h, b.replace('{"id"', '{ "id"')), "bad signature"),
        (lambda h, b: ({**h, "Wechatpay-Nonce": h["Wechatpay-Nonce"] + "x"}, b), "bad signature"),
        (
            lambda h, b: (
                {**h, "Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + h["Wechatpay-Signature"]},
                b,
            ),
            "bad signature",
        ),
        (
            lambda h, b: (
                {**h, "Wechatpay-Serial": "PUB_KEY_ID_0000000000000024101100397200000006"},
                b,
            ),
            "unknown serial",
        ),
        (
            lambda h, b: ({k: x for k, x in h.items() if k != "Wechatpay-Signature-Type"}, b),
            "missing header",
        ),
        (
            lambda h, b: ({**h, "Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}, b),
            "unsupported signature type",
        ),
    ],
)
def test_notify_v1_altered_is_rejected(v: dict[str, Any], change: Any, reason: str) -> None:
    n = v["notify_v1"]
    headers, body = change(_headers(n), n["body"])
    with pytest.raises(CallbackRejected) as exc:
        _provider(n).parse_callback(headers, body.encode(), now=_at(n))
    assert exc.value.reason.startswith(reason)


@pytest.mark.parametrize(("delta", "ok"), [(-300, True), (300, True), (301, False), (-301, False)])
def test_notify_v1_timestamp_window(v: dict[str, Any], delta: int, ok: bool) -> None:
    n = v["notify_v1"]
    provider = _provider(n)
    if ok:
        provider.parse_callback(_headers(n), n["body"].encode(), now=_at(n, delta))
    else:
        with pytest.raises(CallbackRejected, match="window"):
            provider.parse_callback(_headers(n), n["body"].encode(), now=_at(n, delta))


def test_notify_v1_with_the_wrong_apiv3_key_does_not_decrypt(v: dict[str, Any]) -> None:
    n = v["notify_v1"]
    provider = _provider({**n, "apiv3_key": "testMchAPIv3Key1"})
    with pytest.raises(CallbackRejected, match="decrypt"):
        provider.parse_callback(_headers(n), n["body"].encode(), now=_at(n))


def test_sign_v2(v: dict[str, Any]) -> None:
    key_pem = v["notify_v1"]["platform_private_key_pem"]
    s = v["sign_v2"]
    assert signing.rsa_sign(key_pem, s["message"]) == s["signature"]
    assert sdk.rsa_sign(sdk.load_private_key(key_pem), s["message"]) == s["signature"]
    assert signing.rsa_verify(
        v["notify_v1"]["platform_certificate_pem"], s["message"], s["signature"]
    )
    assert not signing.rsa_verify(
        v["notify_v1"]["platform_certificate_pem"], "source\n", s["signature"]
    )


@pytest.mark.parametrize("name", ["aes_gcm_v3", "aes_gcm_v4"])
def test_aes_gcm(v: dict[str, Any], name: str) -> None:
    a = v[name]
    assert (
        signing.aead_decrypt(a["key"], a["nonce"], a["associated_data"], a["ciphertext_b64"])
        == a["plaintext"]
    )
    assert (
        signing.aead_encrypt(a["key"], a["nonce"], a["associated_data"], a["plaintext"])
        == a["ciphertext_b64"]
    )
    assert (
        sdk.aes_decrypt(a["nonce"], a["ciphertext_b64"], a["associated_data"], a["key"])
        == a["plaintext"]
    )
    with pytest.raises(ValueError):
        signing.aead_decrypt(a["key"], a["nonce"], a["associated_data"] + "x", a["ciphertext_b64"])


def test_signing_string_v6_and_the_sdk_signs_exactly_it(
    v: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    s = v["signing_string_v6"]
    assert (
        signing.request_signing_string(
            "GET", "/v3/certificates", "1624523846", "A1B2C3D4E5F6G7", ""
        )
        == s["get_example"]
    )
    # a body that itself ends in a newline still gets its own line end (PROTOCOLS §1.2, V6)
    assert signing.request_signing_string("POST", "/v3/x", "1", "N", "Hello World!\n").endswith(
        "\nHello World!\n\n"
    )
    private_pem, public_pem = pooled_rsa_pem("conformance")
    monkeypatch.setattr(sdk.time, "time", lambda: 1624523846.4)
    header = sdk.build_authorization(
        "/v3/certificates",
        "GET",
        "1234567890",
        "0123456789ABC",
        sdk.load_private_key(private_pem),
        nonce_str="A1B2C3D4E5F6G7",
    )
    fields = signing.parse_authorization(header)
    expected = signing.parse_authorization(s["authorization_format"])
    assert {k: fields[k] for k in ("mchid", "nonce_str", "timestamp", "serial_no")} == {
        k: expected[k] for k in ("mchid", "nonce_str", "timestamp", "serial_no")
    }
    assert signing.rsa_verify(public_pem, s["get_example"], fields["signature"])
