"""payer_url: where a browser can pay what a PayStart shows, on the stand-ins."""

from __future__ import annotations

from loopmall.integrations.payment_provider import PayMethod, PayStart
from loopmall.standins.payer_page import payer_url

WX = "http://127.0.0.1:8801"


def test_payer_urls() -> None:
    native = PayStart(PayMethod.WECHAT_NATIVE, qr_content="weixin://wxpay/bizpayurl?pr=abc1234567")
    assert payer_url(native, wechatpay_base_url=WX + "/") == (
        WX + "/_standin/scan?code_url=weixin%3A%2F%2Fwxpay%2Fbizpayurl%3Fpr%3Dabc1234567"
    )
    jsapi = PayStart(PayMethod.WECHAT_JSAPI, jsapi_params={"package": "prepay_id=wx1"})
    assert payer_url(jsapi, wechatpay_base_url=WX) == WX + "/_standin/pay/wx1"
    h5 = PayStart(PayMethod.WECHAT_H5, redirect_url=WX + "/cgi-bin/mmpayweb-bin/checkmweb?x=1")
    assert payer_url(h5, wechatpay_base_url=WX) == h5.redirect_url
    ali = PayStart(PayMethod.ALIPAY_QR, qr_content="http://127.0.0.1:8802/qr/bax01")
    assert payer_url(ali, wechatpay_base_url=WX) == ali.qr_content
    assert payer_url(PayStart(PayMethod.SANDBOX, redirect_url="/x"), wechatpay_base_url=WX) is None
