"""A stand-in for WeChat's in-app ``WeixinJSBridge`` (JSAPI payments outside WeChat).

A page that would call ``WeixinJSBridge.invoke('getBrandWCPayRequest', params, cb)`` inside
WeChat can load ``{wechatpay_base_url}/_standin/jsbridge.js`` in the demo and browser tests.
The shim shows a sheet with 确认支付 / 取消; on 确认支付 it posts the params to the stand-in,
which checks them as WeChat's client does (appId, the prepay_id in ``package``, the RSA
``paySign`` by the merchant's key), pays the trade, delivers the callback, and answers
``get_brand_wcpay_request:ok`` (or ``:fail`` / ``:cancel``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loopmall.integrations.wechatpay import signing
from loopmall.standins.wechatpay_models import WxError

if TYPE_CHECKING:
    from loopmall.standins.wechatpay import WeChatPayStandin

_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
}

_SHIM = """(function () {
  var endpoint = %(endpoint)s;
  function sheet(onPay, onCancel) {
    var box = document.createElement('div');
    box.id = 'wx-standin-sheet';
    box.setAttribute('role', 'dialog');
    box.style.cssText = 'position:fixed;left:0;right:0;bottom:0;z-index:99999;background:#fff;' +
      'padding:20px;box-shadow:0 -2px 12px rgba(0,0,0,.2);text-align:center;font-size:16px';
    box.innerHTML = '<p>微信支付（模拟器）</p>' +
      '<button type="button" data-pay style="width:100%%;padding:12px;background:#07c160;' +
      'color:#fff;border:0;border-radius:6px;font-size:17px">确认支付</button>' +
      '<button type="button" data-cancel ' +
      'style="margin-top:8px;background:none;border:0">取消</button>';
    document.body.appendChild(box);
    box.querySelector('[data-pay]').onclick = function () { box.remove(); onPay(); };
    box.querySelector('[data-cancel]').onclick = function () { box.remove(); onCancel(); };
  }
  window.WeixinJSBridge = {
    invoke: function (name, params, callback) {
      if (name !== 'getBrandWCPayRequest') { callback({err_msg: name + ':fail'}); return; }
      sheet(function () {
        fetch(endpoint, {method: 'POST', headers: {'Content-Type': 'application/json'},
                         body: JSON.stringify(params)})
          .then(function (r) { return r.json(); })
          .then(function (res) { callback(res); })
          .catch(function () { callback({err_msg: 'get_brand_wcpay_request:fail'}); });
      }, function () { callback({err_msg: 'get_brand_wcpay_request:cancel'}); });
    }
  };
  var fire = function () { document.dispatchEvent(new Event('WeixinJSBridgeReady')); };
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', fire);
  } else { setTimeout(fire, 0); }
})();
"""


def jsapi_routes(standin: WeChatPayStandin) -> list[Route]:
    async def shim(request: Request) -> Response:
        endpoint = str(request.base_url).rstrip("/") + "/_standin/jsapi/pay"
        body = _SHIM % {"endpoint": '"' + endpoint + '"'}
        return Response(body, media_type="application/javascript", headers=_CORS)

    async def pay(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=_CORS)
        fail = JSONResponse({"err_msg": "get_brand_wcpay_request:fail"}, headers=_CORS)
        try:
            p = await request.json()
            prepay_id = str(p["package"]).removeprefix("prepay_id=")
            trade = standin.trade_by_prepay_id(prepay_id)
            merchant = standin.merchant(trade.mchid)
        except (ValueError, KeyError, TypeError, WxError):
            return fail
        message = f"{p.get('appId')}\n{p.get('timeStamp')}\n{p.get('nonceStr')}\n{p['package']}\n"
        if (
            p.get("appId") != merchant.appid
            or p.get("signType") != "RSA"
            or trade.trade_type != "JSAPI"
            or not signing.rsa_verify(
                merchant.merchant_public_key_pem, message, str(p.get("paySign"))
            )
        ):
            return fail
        try:
            cb = standin.complete_payment(trade.mchid, trade.out_trade_no)
        except WxError:
            return fail
        await standin.deliver(cb)
        return JSONResponse({"err_msg": "get_brand_wcpay_request:ok"}, headers=_CORS)

    return [
        Route("/_standin/jsbridge.js", shim, methods=["GET"]),
        Route("/_standin/jsapi/pay", pay, methods=["POST", "OPTIONS"]),
    ]
