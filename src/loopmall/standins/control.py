"""The stand-ins' control API (JSON, under ``/_standin``; no real provider has it).

For tests and the demo: complete a payment with or without delivering its callback, finish
refunds, build arbitrary genuinely signed callbacks, list what was built, deliver again.

WeChat Pay stand-in:
  POST /_standin/trades/{out_trade_no}/pay
       {mchid?, openid?, deliver=true, timestamp?, ignore_expiry?}
  GET  /_standin/trades/{out_trade_no}?mchid=
  POST /_standin/refunds/{out_refund_no}/complete
       {mchid?, status=SUCCESS|ABNORMAL|CLOSED, deliver=true}
  POST /_standin/callbacks  {mchid, event_type, resource, notify_url, original_type?, summary?,
                             out_trade_no?, timestamp?, signature_probe=false, deliver=false}
       (signature_probe: a deliberately bad ``WECHATPAY/SIGNTEST/…`` signature, as WeChat
       sends now and then to see that merchants verify)
Alipay stand-in:
  POST /_standin/trades/{out_trade_no}/pay  {app_id?, buyer_id?, deliver=true}
  GET  /_standin/trades/{out_trade_no}?app_id=
  POST /_standin/notifies  {app_id, fields, notify_url, deliver=false}
       (signs ``fields`` as a notify)
Both:
  GET  /_standin/callbacks?out_trade_no=&merchant=   every callback built, oldest first
  POST /_standin/callbacks/{id}/deliver              deliver (again)
  POST /_standin/merchants                           register an account (see keys.py fields)
  POST /_standin/reset                               forget trades, refunds, callbacks

A callback is ``{"id","url","method","headers","body","event","out_trade_no","merchant",
"acknowledged","attempts"}``: post ``body`` (raw text) with ``headers`` to replay it.
Errors: ``{"code","message"}`` with the provider's status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loopmall.integrations.wechatpay.config import WeChatPayConfig
from loopmall.standins.keys import WeChatPayMerchantKeys
from loopmall.standins.wechatpay_models import WxError

if TYPE_CHECKING:
    from loopmall.standins.delivery import CallbackLog, RecordedCallback
    from loopmall.standins.wechatpay import WeChatPayStandin

Handler = Callable[[Request], Awaitable[Response]]


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = await request.json()
    return data if isinstance(data, dict) else {}


def _guard(fn: Callable[[Request], Awaitable[Any]]) -> Handler:
    async def handler(request: Request) -> Response:
        try:
            result = await fn(request)
        except WxError as exc:
            return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)
        except (KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"code": "PARAM_ERROR", "message": repr(exc)}, status_code=400)
        return result if isinstance(result, Response) else JSONResponse(result)

    return handler


def common_routes(
    log: CallbackLog,
    deliver: Callable[[RecordedCallback], Awaitable[bool]],
    reset: Callable[[], None],
) -> list[Route]:
    async def list_callbacks(request: Request) -> Any:
        q = request.query_params
        items = log.list(out_trade_no=q.get("out_trade_no"), merchant=q.get("merchant"))
        return {"callbacks": [c.as_json() for c in items]}

    async def redeliver(request: Request) -> Any:
        cb = log.get(request.path_params["cb_id"])
        if cb is None:
            raise WxError(404, "NOT_FOUND", "no such callback")
        acknowledged = await deliver(cb)
        return {"acknowledged": acknowledged, "callback": cb.as_json()}

    async def do_reset(request: Request) -> Any:
        reset()
        return {"ok": True}

    return [
        Route("/_standin/callbacks", _guard(list_callbacks), methods=["GET"]),
        Route("/_standin/callbacks/{cb_id:str}/deliver", _guard(redeliver), methods=["POST"]),
        Route("/_standin/reset", _guard(do_reset), methods=["POST"]),
        Route("/_standin/health", _guard(_health), methods=["GET"]),
    ]


async def _health(request: Request) -> Any:
    return {"ok": True}


async def _maybe_deliver(
    cb: RecordedCallback | None, want: bool, deliver: Callable[[RecordedCallback], Awaitable[bool]]
) -> dict[str, Any]:
    if cb is None:
        return {"callback": None, "acknowledged": None}
    acknowledged = await deliver(cb) if want else None
    return {"callback": cb.as_json(), "acknowledged": acknowledged}


def wechatpay_control_routes(standin: WeChatPayStandin) -> list[Route]:
    def mchid_for(out_trade_no: str, given: str | None) -> str:
        if given:
            return given
        with standin.lock:
            for mchid, no in standin.trades:
                if no == out_trade_no:
                    return mchid
        raise WxError(404, "ORDER_NOT_EXIST", "订单不存在")

    async def pay(request: Request) -> Any:
        data = await _json(request)
        out_trade_no = request.path_params["out_trade_no"]
        mchid = mchid_for(out_trade_no, data.get("mchid"))
        cb = standin.complete_payment(
            mchid,
            out_trade_no,
            openid=data.get("openid"),
            timestamp=data.get("timestamp"),
            ignore_expiry=bool(data.get("ignore_expiry", False)),
        )
        result = await _maybe_deliver(cb, bool(data.get("deliver", True)), standin.deliver)
        with standin.lock:
            result["transaction"] = standin.find_trade(mchid, out_trade_no).transaction()
        return result

    async def show_trade(request: Request) -> Any:
        out_trade_no = request.path_params["out_trade_no"]
        mchid = mchid_for(out_trade_no, request.query_params.get("mchid"))
        with standin.lock:
            trade = standin.find_trade(mchid, out_trade_no)
            refunds = [r.as_json() for r in standin.refunds.values() if r.trade is trade]
            return {
                "transaction": trade.transaction(),
                "notify_url": trade.notify_url,
                "prepay_id": trade.prepay_id,
                "refunds": refunds,
            }

    async def complete_refund(request: Request) -> Any:
        data = await _json(request)
        out_refund_no = request.path_params["out_refund_no"]
        mchid = data.get("mchid") or next(
            (m for m, no in list(standin.refunds) if no == out_refund_no), ""
        )
        cb = standin.complete_refund(
            mchid,
            out_refund_no,
            status=data.get("status", "SUCCESS"),
            timestamp=data.get("timestamp"),
        )
        return await _maybe_deliver(cb, bool(data.get("deliver", True)), standin.deliver)

    async def build(request: Request) -> Any:
        data = await _json(request)
        merchant = standin.merchant(data["mchid"])
        resource = data["resource"]
        original_type = data.get("original_type") or (
            "refund" if str(data["event_type"]).startswith("REFUND.") else "transaction"
        )
        cb = standin.build_callback(
            merchant,
            event_type=data["event_type"],
            summary=data.get("summary", "支付成功"),
            original_type=original_type,
            resource=resource,
            notify_url=data["notify_url"],
            out_trade_no=data.get("out_trade_no") or str(resource.get("out_trade_no", "")),
            timestamp=data.get("timestamp"),
        )
        if data.get("signature_probe"):
            cb.headers["Wechatpay-Signature"] = (
                "WECHATPAY/SIGNTEST/" + cb.headers["Wechatpay-Signature"]
            )
        return await _maybe_deliver(cb, bool(data.get("deliver", False)), standin.deliver)

    async def register(request: Request) -> Any:
        d = await _json(request)
        config = WeChatPayConfig(
            mchid=d["mchid"],
            appid=d["appid"],
            apiv3_key=d["apiv3_key"],
            merchant_private_key_pem="",
            merchant_serial_no=d["merchant_serial_no"],
            platform_public_key_pem="",
            platform_public_key_id=d["platform_public_key_id"],
        )
        standin.add_merchant(
            WeChatPayMerchantKeys(
                config,
                d["merchant_public_key_pem"],
                d["platform_private_key_pem"],
                d.get("name", "Loopmall 测试商户"),
            )
        )
        return {"ok": True}

    return [
        Route("/_standin/trades/{out_trade_no:str}/pay", _guard(pay), methods=["POST"]),
        Route("/_standin/trades/{out_trade_no:str}", _guard(show_trade), methods=["GET"]),
        Route(
            "/_standin/refunds/{out_refund_no:str}/complete",
            _guard(complete_refund),
            methods=["POST"],
        ),
        Route("/_standin/callbacks", _guard(build), methods=["POST"]),
        Route("/_standin/merchants", _guard(register), methods=["POST"]),
        *common_routes(standin.callbacks, standin.deliver, standin.reset),
    ]
