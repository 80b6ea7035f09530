"""A genuine Alipay-signed notify (Alipay's Node SDK tests) verifies through our adapter
(python-alipay-sdk underneath) and through our own RSA2 rule; any alteration is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from loopmall.integrations.alipay import AlipayConfig, AlipayProvider, signing
from loopmall.integrations.payment_provider import CallbackRejected
from loopmall.standins.keys import pooled_rsa_pem

from .vectors import load

NOW = datetime(2019, 8, 15, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def v7() -> dict[str, Any]:
    return load("alipay.json")["notify_v7"]


def _provider(v7: dict[str, Any], **overrides: Any) -> AlipayProvider:
    config = AlipayConfig(
        **{
            "app_id": "2019073166072302",
            "app_private_key_pem": pooled_rsa_pem("conformance")[0],
            "alipay_public_key_pem": signing.pem_from_der_b64(v7["alipay_public_key_der_b64"]),
            "seller_id": "2088531891668739",
            **overrides,
        }
    )
    return AlipayProvider(config, gateway_url="http://127.0.0.1:9/gateway.do")


def test_notify_v7_through_the_adapter(v7: dict[str, Any]) -> None:
    body = urlencode(v7["form"]).encode()
    provider = _provider(v7)
    event = provider.parse_callback({}, body, now=NOW)
    assert (event.kind, event.state, event.amount_fen) == ("payment", "paid", 10)
    assert event.out_trade_no == "20190815155618536-564-57"
    assert event.provider_trade_no == "2019081522001468450512505578"
    assert event.provider_event_id == "2019081500222155624068450559358070"
    assert event.occurred_at == datetime(2019, 8, 15, 7, 56, 24, tzinfo=UTC)
    assert (event.app_id, event.merchant_no) == ("2019073166072302", "2088531891668739")
    # the SDK's verify() pops sign_type from what it is given; ours must not lose it
    assert provider.parse_callback({}, body, now=NOW).raw["sign_type"] == "RSA2"


def test_notify_v7_with_our_rule(v7: dict[str, Any]) -> None:
    form = dict(v7["form"])
    content = signing.content_to_sign(form, exclude=("sign", "sign_type"))
    assert content.startswith("app_id=2019073166072302&auth_app_id=")
    assert 'fund_bill_list=[{"amount":"0.10","fundChannel":"ALIPAYACCOUNT"}]' in content
    public = signing.pem_from_der_b64(v7["alipay_public_key_der_b64"])
    assert signing.rsa_verify(public, content, form["sign"])
    # sign_type is not covered: including it breaks verification
    assert not signing.rsa_verify(public, signing.content_to_sign(form), form["sign"])


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("total_amount", "0.11", "bad signature"),
        ("trade_status", "TRADE_FINISHED", "bad signature"),
        ("out_trade_no", "20190815155618536-564-58", "bad signature"),
        ("subject", "语雀空间 501人规模", "bad signature"),
        ("sign", "QfTb8tqE" + "A" * 10, "bad signature"),
        ("sign", "not base64 !!", "bad signature"),
        ("sign_type", "RSA", "unsupported sign type"),
        ("sign", "", "missing sign"),
    ],
)
def test_notify_v7_altered_is_rejected(
    v7: dict[str, Any], field: str, value: str, reason: str
) -> None:
    form = {**v7["form"], field: value}
    with pytest.raises(CallbackRejected) as exc:
        _provider(v7).parse_callback({}, urlencode(form).encode(), now=NOW)
    assert exc.value.reason == reason


def test_notify_v7_for_another_app_or_seller_is_rejected(v7: dict[str, Any]) -> None:
    body = urlencode(v7["form"]).encode()
    with pytest.raises(CallbackRejected, match="another app"):
        _provider(v7, app_id="2021000000000001").parse_callback({}, body, now=NOW)
    with pytest.raises(CallbackRejected, match="another seller"):
        _provider(v7, seller_id="2088000000000001").parse_callback({}, body, now=NOW)


def test_notify_v7_repeated_field_is_rejected(v7: dict[str, Any]) -> None:
    body = urlencode(v7["form"]) + "&total_amount=100.00"
    with pytest.raises(CallbackRejected, match="repeated"):
        _provider(v7).parse_callback({}, body.encode(), now=NOW)
