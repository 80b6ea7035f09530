"""HTTP face of the WeChat Pay stand-in: the v3 API, the payer pages and a control API.

v3 (as WeChat): POST /v3/pay/transactions/{jsapi,native,h5,app};
GET /v3/pay/transactions/out-trade-no/{no}?mchid=; GET /v3/pay/transactions/id/{id}?mchid=;
POST /v3/pay/transactions/out-trade-no/{no}/close (204); POST /v3/refund/domestic/refunds;
GET /v3/refund/domestic/refunds/{out_refund_no}.
Payer: GET /_standin/scan?code_url=… (from a Native QR), GET|POST /_standin/pay/{prepay_id},
GET /cgi-bin/mmpayweb-bin/checkmweb?prepay_id=…&redirect_url=… (an H5 h5_url),
GET /_standin/jsbridge.js + POST /_standin/jsapi/pay (JSAPI: :mod:`.wechatpay_jsapi`).
Control (JSON; not part of WeChat): see :mod:`loopmall.standins.control`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from loopmall.standins.payer_page import payer_page
from loopmall.standins.wechatpay_models import WxError, WxMerchant

if TYPE_CHECKING:
    from loopmall.standins.wechatpay import WeChatPayStandin

_JSON = "application/json; charset=utf-8"


def build_app(standin: WeChatPayStandin) -> Starlette:
    def answer(merchant: WxMerchant | None, status: int, data: dict[str, Any] | None) -> Response:
        body = (
            json.dumps(data, ensure_ascii=False, separators=(",", ":")) if data is not None else ""
        )
        headers = standin.signed_headers(merchant, body) if merchant else {}
        headers.pop("Content-Type", None)
        return Response(
            body.encode(), status_code=status, headers=headers, media_type=_JSON if body else None
        )

    async def v3(request: Request) -> Response:
        raw = (await request.body()).decode("utf-8", "replace")
        url = request.scope.get("raw_path", request.url.path.encode()).decode()
        if request.scope.get("query_string"):
            url += "?" + request.scope["query_string"].decode()
        merchant = None
        try:
            merchant = standin.authenticate(request.method, url, dict(request.headers), raw)
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise WxError(400, "PARAM_ERROR", "请求体须为 JSON 对象")
            status, data = _dispatch(standin, request, merchant, body)
        except json.JSONDecodeError:
            return answer(
                merchant, 400, {"code": "PARAM_ERROR", "message": "请求体不是合法的 JSON"}
            )
        except WxError as exc:
            return answer(merchant, exc.status, {"code": exc.code, "message": exc.message})
        return answer(merchant, status, data)

    async def scan(request: Request) -> Response:
        code_url = request.query_params.get("code_url", "")
        token = parse_qs(urlsplit(code_url).query).get("pr", [""])[0]
        try:
            trade = standin.trade_by_prepay_id(token)
        except WxError as exc:
            return HTMLResponse(exc.message, status_code=404)
        return RedirectResponse(f"/_standin/pay/{trade.prepay_id}", status_code=303)

    async def checkmweb(request: Request) -> Response:
        prepay_id = request.query_params.get("prepay_id", "")
        redirect = request.query_params.get("redirect_url", "")
        target = f"/_standin/pay/{prepay_id}"
        return await _payer(standin, request, prepay_id, target, redirect)

    async def pay_page(request: Request) -> Response:
        prepay_id = request.path_params["prepay_id"]
        return await _payer(standin, request, prepay_id, request.url.path, "")

    from loopmall.standins.control import wechatpay_control_routes
    from loopmall.standins.wechatpay_jsapi import jsapi_routes

    routes = [
        Route("/v3/pay/transactions/{kind:str}", v3, methods=["POST"]),
        Route("/v3/pay/transactions/out-trade-no/{no:str}", v3, methods=["GET"]),
        Route("/v3/pay/transactions/id/{tid:str}", v3, methods=["GET"]),
        Route("/v3/pay/transactions/out-trade-no/{no:str}/close", v3, methods=["POST"]),
        Route("/v3/refund/domestic/refunds", v3, methods=["POST"]),
        Route("/v3/refund/domestic/refunds/{orn:str}", v3, methods=["GET"]),
        Route("/_standin/scan", scan, methods=["GET"]),
        Route("/cgi-bin/mmpayweb-bin/checkmweb", checkmweb, methods=["GET"]),
        Route("/_standin/pay/{prepay_id:str}", pay_page, methods=["GET", "POST"]),
        *wechatpay_control_routes(standin),
        *jsapi_routes(standin),
    ]
    return Starlette(routes=routes)


def _dispatch(
    standin: WeChatPayStandin, request: Request, merchant: WxMerchant, body: dict[str, Any]
) -> tuple[int, dict[str, Any] | None]:
    path = request.url.path
    params = request.path_params
    base = str(request.base_url).rstrip("/")
    if request.method == "GET" and path.startswith("/v3/pay/transactions/"):
        if request.query_params.get("mchid") != merchant.mchid:
            raise WxError(400, "PARAM_ERROR", "mchid 与请求头中的商户号不一致")
        with standin.lock:
            if "no" in params:
                return 200, standin.find_trade(merchant.mchid, params["no"]).transaction()
            else:
                trade = next(
                    (
                        t
                        for t in standin.trades.values()
                        if t.mchid == merchant.mchid and t.transaction_id == params["tid"]
                    ),
                    None,
                )
                if trade is None:
                    raise WxError(404, "ORDER_NOT_EXIST", "订单不存在")
            return 200, trade.transaction()
    if path.endswith("/close"):
        if body.get("mchid") != merchant.mchid:
            raise WxError(400, "PARAM_ERROR", "mchid 与请求头中的商户号不一致")
        standin.close_trade(merchant.mchid, params["no"])
        return 204, None
    if path.startswith("/v3/pay/transactions/"):
        if params["kind"] not in ("jsapi", "native", "h5", "app"):
            raise WxError(404, "NOT_FOUND", "无效的请求地址")
        return 200, standin.create_trade(merchant, params["kind"], body, base)
    if request.method == "POST":
        return 200, standin.create_refund(merchant, body).as_json()
    with standin.lock:
        record = standin.refunds.get((merchant.mchid, params["orn"]))
        if record is None:
            raise WxError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return 200, record.as_json()


async def _payer(
    standin: WeChatPayStandin, request: Request, prepay_id: str, action: str, redirect: str
) -> Response:
    try:
        trade = standin.trade_by_prepay_id(prepay_id)
    except WxError as exc:
        return HTMLResponse(exc.message, status_code=404)
    merchant = standin.merchant(trade.mchid)
    page = dict(
        brand="微信支付",
        color="#07c160",
        merchant=merchant.name,
        amount_fen=trade.total,
        description=trade.description,
        action=action,
    )
    if request.method == "GET":
        if trade.trade_state != "NOTPAY":
            return HTMLResponse(payer_page(**page, error="该订单已支付或已关闭"))  # type: ignore[arg-type]
        hidden = {"redirect_url": redirect} if redirect else {}
        return HTMLResponse(payer_page(**page, hidden=hidden))  # type: ignore[arg-type]
    form = await request.form()
    back = str(form.get("redirect_url") or "") or None
    try:
        cb = standin.complete_payment(trade.mchid, trade.out_trade_no)
    except WxError as exc:
        return HTMLResponse(payer_page(**page, error=exc.message), status_code=400)  # type: ignore[arg-type]
    await standin.deliver(cb)
    if back:
        return RedirectResponse(back, status_code=303)
    return HTMLResponse(payer_page(**page, message="支付成功"))  # type: ignore[arg-type]
