"""HTTP face of the Alipay stand-in: gateway.do, the payer page, and the control API.

Gateway (as Alipay): GET|POST /gateway.do with alipay.trade.precreate, .query, .close,
.refund, .fastpay.refund.query. Payer: GET|POST /qr/{token} (a precreate ``qr_code`` is this
URL). Control (JSON): see :mod:`loopmall.standins.control`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from loopmall.integrations.alipay.config import AlipayConfig
from loopmall.integrations.alipay.signing import response_text
from loopmall.standins.alipay_models import AliError, invalid_arguments
from loopmall.standins.control import _guard, _json, _maybe_deliver, common_routes
from loopmall.standins.keys import AlipayAppKeys
from loopmall.standins.payer_page import payer_page
from loopmall.standins.wechatpay_models import WxError

if TYPE_CHECKING:
    from loopmall.standins.alipay import AlipayStandin

_JSON = "application/json;charset=utf-8"


def build_app(standin: AlipayStandin) -> Starlette:  # noqa: C901 (a test stand-in's routes as closures over one state)
    async def gateway(request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            form = await request.form()
            params.update({k: str(v) for k, v in form.items()})
        method = params.get("method", "")
        key = method.replace(".", "_") + "_response" if method else "error_response"
        try:
            app = standin.authenticate(params)
        except AliError as exc:  # unsigned, like Alipay's own refusals of a bad request
            body = f'{{"{key}":{response_text(exc.as_json())}}}'
            return Response(body, media_type=_JSON)
        try:
            biz = json.loads(params.get("biz_content") or "{}")
            if not isinstance(biz, dict):
                raise ValueError
        except ValueError:
            inner: dict[str, Any] = invalid_arguments(
                "isv.invalid-parameter", "biz_content 不是 JSON 对象"
            ).as_json()
        else:
            try:
                inner = standin.call(app, method, biz, params, str(request.base_url).rstrip("/"))
            except AliError as exc:
                inner = exc.as_json()
        return Response(standin.signed_answer(app, method or "error", inner), media_type=_JSON)

    async def qr(request: Request) -> Response:
        try:
            trade = standin.trade_by_token(request.path_params["token"])
        except AliError as exc:
            return HTMLResponse(exc.sub_msg, status_code=404)
        app = standin.apps[trade.app_id]
        page: dict[str, Any] = dict(
            brand="支付宝",
            color="#1677ff",
            merchant=app.name,
            amount_fen=trade.total_fen,
            description=trade.subject,
            action=request.url.path,
        )
        if request.method == "GET":
            if trade.trade_status != "WAIT_BUYER_PAY":
                return HTMLResponse(payer_page(**page, error="该交易已支付或已关闭"))
            return HTMLResponse(payer_page(**page))
        try:
            cb = standin.complete_payment(trade.app_id, trade.out_trade_no)
        except AliError as exc:
            return HTMLResponse(payer_page(**page, error=exc.sub_msg), status_code=400)
        if cb is not None:
            await standin.deliver(cb)
        return HTMLResponse(payer_page(**page, message="支付成功"))

    routes = [
        Route("/gateway.do", gateway, methods=["GET", "POST"]),
        Route("/qr/{token:str}", qr, methods=["GET", "POST"]),
        *_control_routes(standin),
    ]
    return Starlette(routes=routes)


def _control_routes(standin: AlipayStandin) -> list[Route]:
    def app_for(out_trade_no: str, given: str | None) -> str:
        if given:
            return given
        with standin.lock:
            for app_id, no in standin.trades:
                if no == out_trade_no:
                    return app_id
        raise WxError(404, "ACQ.TRADE_NOT_EXIST", "交易不存在")

    def business(fn: Any) -> Any:
        async def wrapped(request: Request) -> Any:
            try:
                return await fn(request)
            except AliError as exc:
                raise WxError(400, exc.sub_code, exc.sub_msg) from None

        return wrapped

    async def pay(request: Request) -> Any:
        data = await _json(request)
        out_trade_no = request.path_params["out_trade_no"]
        app_id = app_for(out_trade_no, data.get("app_id"))
        cb = standin.complete_payment(
            app_id,
            out_trade_no,
            buyer_id=data.get("buyer_id"),
            ignore_expiry=bool(data.get("ignore_expiry", False)),
        )
        result = await _maybe_deliver(cb, bool(data.get("deliver", True)), standin.deliver)
        result["trade"] = standin.find(
            standin.apps[app_id], {"out_trade_no": out_trade_no}
        ).query_answer()
        return result

    async def show_trade(request: Request) -> Any:
        out_trade_no = request.path_params["out_trade_no"]
        app_id = app_for(out_trade_no, request.query_params.get("app_id"))
        trade = standin.find(standin.apps[app_id], {"out_trade_no": out_trade_no})
        return {
            "trade": trade.query_answer(),
            "notify_url": trade.notify_url,
            "qr_token": trade.qr_token,
            "refunds": [r.__dict__ for r in trade.refunds.values()],
        }

    async def build(request: Request) -> Any:
        data = await _json(request)
        app = standin.apps[data["app_id"]]
        cb = standin.build_notify(app, dict(data["fields"]), data["notify_url"])
        return await _maybe_deliver(cb, bool(data.get("deliver", False)), standin.deliver)

    async def register(request: Request) -> Any:
        d = await _json(request)
        config = AlipayConfig(
            app_id=d["app_id"],
            app_private_key_pem="",
            alipay_public_key_pem="",
            seller_id=d.get("seller_id"),
        )
        standin.add_app(
            AlipayAppKeys(
                config,
                d["app_public_key_pem"],
                d["alipay_private_key_pem"],
                d.get("name", "Loopmall 测试商户"),
            )
        )
        return {"ok": True}

    return [
        Route("/_standin/trades/{out_trade_no:str}/pay", _guard(business(pay)), methods=["POST"]),
        Route("/_standin/trades/{out_trade_no:str}", _guard(business(show_trade)), methods=["GET"]),
        Route("/_standin/notifies", _guard(business(build)), methods=["POST"]),
        Route("/_standin/merchants", _guard(register), methods=["POST"]),
        *common_routes(standin.callbacks, standin.deliver, standin.reset),
    ]
