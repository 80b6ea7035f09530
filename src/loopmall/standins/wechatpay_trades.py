"""Trades and refunds of the WeChat Pay stand-in (a mixin of :class:`WeChatPayStandin`)."""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from loopmall.core.clock import SHANGHAI
from loopmall.standins.wechatpay_models import (
    REFUND_EVENTS,
    WxError,
    WxMerchant,
    WxRefund,
    WxTrade,
    digits,
    now_cn,
)

if TYPE_CHECKING:
    from loopmall.standins.delivery import RecordedCallback

_OUT_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
_OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
_TYPES = {"jsapi": "JSAPI", "native": "NATIVE", "h5": "MWEB", "app": "APP"}


# The checks of a new trade, in the order WeChat Pay makes them (the first failing one answers).


def _check_required(body: dict[str, Any]) -> None:
    for name in ("appid", "mchid", "description", "out_trade_no", "notify_url", "amount"):
        if not body.get(name):
            raise WxError(
                400, "PARAM_ERROR", f"输入源“/body/{name}”映射到字段“{name}”必填性规则校验失败"
            )


def _check_merchant(body: dict[str, Any], merchant: WxMerchant) -> None:
    if body["mchid"] != merchant.mchid:
        raise WxError(400, "PARAM_ERROR", "请求头中的商户号与请求体中的商户号不一致")
    if body["appid"] != merchant.appid:
        raise WxError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")


def _out_trade_no(body: dict[str, Any]) -> str:
    out_trade_no = str(body["out_trade_no"])
    if not _OUT_NO.fullmatch(out_trade_no):
        raise WxError(400, "PARAM_ERROR", "out_trade_no 只能是 6-32 位数字、大小写字母_-|*")
    return out_trade_no


def _total(body: dict[str, Any]) -> int:
    total = (body.get("amount") or {}).get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise WxError(400, "PARAM_ERROR", "amount.total 必须是正整数（分）")
    return total


def _check_notify_and_description(body: dict[str, Any]) -> None:
    notify = urlsplit(str(body["notify_url"]))
    if notify.scheme not in ("http", "https") or not notify.netloc or notify.query:
        raise WxError(400, "PARAM_ERROR", "notify_url 须为可直接访问的 URL，不允许携带查询串")
    if len(str(body["description"])) > 127:
        raise WxError(400, "PARAM_ERROR", "description 超过 127 个字符")


def _check_payer_scene(body: dict[str, Any], trade_type: str) -> Any:
    """The payer's openid (JSAPI needs one); an H5 order needs its scene."""
    openid = (body.get("payer") or {}).get("openid")
    if trade_type == "JSAPI" and not openid:
        raise WxError(400, "PARAM_ERROR", "JSAPI 下单需要 payer.openid")
    if trade_type == "MWEB":
        scene = body.get("scene_info") or {}
        if not scene.get("payer_client_ip") or not (scene.get("h5_info") or {}).get("type"):
            raise WxError(
                400, "PARAM_ERROR", "H5 下单需要 scene_info.payer_client_ip 与 h5_info.type"
            )
    return openid


def _time_expire(body: dict[str, Any]) -> datetime | None:
    if not body.get("time_expire"):
        return None
    try:
        expire = datetime.fromisoformat(str(body["time_expire"]))
    except ValueError:
        raise WxError(400, "PARAM_ERROR", "time_expire 须为 rfc3339 格式") from None
    if expire.tzinfo is None:
        raise WxError(400, "PARAM_ERROR", "time_expire 须带时区")
    return expire


def _same_order_again(existing: WxTrade, body: dict[str, Any], trade_type: str) -> dict[str, Any]:
    """A second request with a known out_trade_no: the same prepay for the same order,
    refused when it was paid, closed, or is another order."""
    if existing.trade_state in ("SUCCESS", "REFUND"):
        raise WxError(400, "ORDERPAID", "该订单已支付")
    if existing.trade_state == "CLOSED":
        raise WxError(400, "ORDER_CLOSED", "订单已关闭")
    if existing.request != body or existing.trade_type != trade_type:
        raise WxError(403, "OUT_TRADE_NO_USED", "商户订单号重复")
    return existing.answer


def _prepay_answer(trade_type: str, prepay_id: str, base_url: str) -> dict[str, Any]:
    """What the order call answers: a QR link (NATIVE), an H5 page (MWEB), else the prepay id."""
    if trade_type == "NATIVE":
        return {"code_url": f"weixin://wxpay/bizpayurl?pr={prepay_id[-10:]}"}
    if trade_type == "MWEB":
        return {
            "h5_url": f"{base_url}/cgi-bin/mmpayweb-bin/checkmweb"
            f"?prepay_id={prepay_id}&package={digits(10)}"
        }
    return {"prepay_id": prepay_id}


class WxTrades:
    merchants: dict[str, WxMerchant]
    trades: dict[tuple[str, str], WxTrade]
    refunds: dict[tuple[str, str], WxRefund]
    lock: threading.RLock
    refund_delay: float | None

    if TYPE_CHECKING:

        def merchant(self, mchid: str) -> WxMerchant: ...
        def now(self) -> float: ...
        def build_callback(
            self,
            merchant: WxMerchant,
            *,
            event_type: str,
            summary: str,
            original_type: str,
            resource: dict[str, Any],
            notify_url: str,
            out_trade_no: str,
            timestamp: int | None = None,
        ) -> RecordedCallback: ...
        async def deliver(self, cb: RecordedCallback) -> bool: ...
        def spawn(self, coro: Any) -> None: ...

    def create_trade(
        self, merchant: WxMerchant, kind: str, body: dict[str, Any], base_url: str
    ) -> dict[str, Any]:
        """POST /v3/pay/transactions/{jsapi|native|h5|app}: validate, keep, answer."""
        trade_type = _TYPES[kind]
        _check_required(body)
        _check_merchant(body, merchant)
        out_trade_no = _out_trade_no(body)
        total = _total(body)
        _check_notify_and_description(body)
        openid = _check_payer_scene(body, trade_type)
        expire = _time_expire(body)
        with self.lock:
            existing = self.trades.get((merchant.mchid, out_trade_no))
            if existing is not None:
                return _same_order_again(existing, body, trade_type)
            prepay_id = "wx" + datetime.now(SHANGHAI).strftime("%d%H%M%S") + secrets.token_hex(13)
            answer = _prepay_answer(trade_type, prepay_id, base_url)
            self.trades[(merchant.mchid, out_trade_no)] = WxTrade(
                mchid=merchant.mchid,
                appid=merchant.appid,
                out_trade_no=out_trade_no,
                trade_type=trade_type,
                description=str(body["description"]),
                total=total,
                notify_url=str(body["notify_url"]),
                request=body,
                prepay_id=prepay_id,
                answer=answer,
                attach=body.get("attach"),
                time_expire=expire,
                payer_openid=openid,
            )
            return answer

    def find_trade(self, mchid: str, out_trade_no: str) -> WxTrade:
        trade = self.trades.get((mchid, out_trade_no))
        if trade is None:
            raise WxError(404, "ORDER_NOT_EXIST", "订单不存在")
        return trade

    def trade_by_prepay_id(self, token: str) -> WxTrade:
        """By prepay_id, or by the ``pr=`` token of a Native code_url."""
        with self.lock:
            for trade in self.trades.values():
                if token in (trade.prepay_id, trade.prepay_id[-10:]):
                    return trade
        raise WxError(404, "ORDER_NOT_EXIST", "订单不存在")

    def close_trade(self, mchid: str, out_trade_no: str) -> None:
        with self.lock:
            trade = self.find_trade(mchid, out_trade_no)
            if trade.trade_state in ("SUCCESS", "REFUND"):
                raise WxError(400, "ORDERPAID", "订单已支付")
            trade.trade_state = "CLOSED"

    def complete_payment(
        self,
        mchid: str,
        out_trade_no: str,
        *,
        openid: str | None = None,
        timestamp: int | None = None,
        ignore_expiry: bool = False,
    ) -> RecordedCallback:
        """The payer pays: SUCCESS, and a TRANSACTION.SUCCESS callback is built (not sent)."""
        merchant = self.merchant(mchid)
        with self.lock:
            trade = self.find_trade(mchid, out_trade_no)
            if trade.trade_state in ("SUCCESS", "REFUND"):
                raise WxError(400, "ORDERPAID", "该订单已支付")
            if trade.trade_state == "CLOSED":
                raise WxError(400, "ORDER_CLOSED", "订单已关闭")
            if (
                not ignore_expiry
                and trade.time_expire is not None
                and self.now() > trade.time_expire.timestamp()
            ):
                raise WxError(400, "ORDER_CLOSED", "订单已过期")
            trade.trade_state = "SUCCESS"
            trade.transaction_id = "4200" + digits(24)
            trade.success_time = now_cn()
            trade.payer_openid = (
                openid or trade.payer_openid or "o" + secrets.token_urlsafe(20)[:27]
            )
            resource = trade.transaction()
        return self.build_callback(
            merchant,
            event_type="TRANSACTION.SUCCESS",
            summary="支付成功",
            original_type="transaction",
            resource=resource,
            notify_url=trade.notify_url,
            out_trade_no=out_trade_no,
            timestamp=timestamp,
        )

    def create_refund(self, merchant: WxMerchant, body: dict[str, Any]) -> WxRefund:
        """POST /v3/refund/domestic/refunds: PROCESSING now, completing later."""
        out_refund_no = str(body.get("out_refund_no") or "")
        if not _OUT_REFUND_NO.fullmatch(out_refund_no):
            raise WxError(400, "PARAM_ERROR", "out_refund_no 格式错误")
        amount = body.get("amount") or {}
        refund, total = amount.get("refund"), amount.get("total")
        if not (isinstance(refund, int) and isinstance(total, int) and refund > 0):
            raise WxError(400, "PARAM_ERROR", "amount.refund 与 amount.total 必须是正整数（分）")
        with self.lock:
            existing = self.refunds.get((merchant.mchid, out_refund_no))
            if existing is not None:
                if existing.request != body:
                    raise WxError(400, "INVALID_REQUEST", "退款单号重复，且请求参数与之前不一致")
                return existing
            if body.get("transaction_id"):
                trade = next(
                    (
                        t
                        for t in self.trades.values()
                        if t.mchid == merchant.mchid and t.transaction_id == body["transaction_id"]
                    ),
                    None,
                )
                if trade is None:
                    raise WxError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
            else:
                trade = self.trades.get((merchant.mchid, str(body.get("out_trade_no"))))
                if trade is None:
                    raise WxError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
            if trade.trade_state not in ("SUCCESS", "REFUND"):
                raise WxError(400, "INVALID_REQUEST", "订单未支付，不能退款")
            if total != trade.total:
                raise WxError(400, "PARAM_ERROR", "订单金额与原订单不一致")
            if refund > trade.total - trade.refunded:
                raise WxError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
            trade.refunded += refund
            trade.trade_state = "REFUND"
            record = WxRefund(
                mchid=merchant.mchid,
                out_refund_no=out_refund_no,
                refund_id="50" + digits(30),
                trade=trade,
                refund=refund,
                request=body,
                notify_url=body.get("notify_url"),
                reason=body.get("reason"),
            )
            self.refunds[(merchant.mchid, out_refund_no)] = record
        if self.refund_delay is not None:
            self.spawn(self._complete_later(merchant.mchid, out_refund_no, self.refund_delay))
        return record

    async def _complete_later(self, mchid: str, out_refund_no: str, delay: float) -> None:
        await asyncio.sleep(delay)
        cb = self.complete_refund(mchid, out_refund_no)
        if cb is not None:
            await self.deliver(cb)

    def complete_refund(
        self,
        mchid: str,
        out_refund_no: str,
        *,
        status: str = "SUCCESS",
        timestamp: int | None = None,
    ) -> RecordedCallback | None:
        """Finish a PROCESSING refund (SUCCESS, ABNORMAL or CLOSED) and build its callback
        (None when the refund had no notify_url or was already finished)."""
        merchant = self.merchant(mchid)
        with self.lock:
            record = self.refunds.get((mchid, out_refund_no))
            if record is None:
                raise WxError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            if record.status != "PROCESSING":
                return None
            record.status = status
            if status == "SUCCESS":
                record.success_time = now_cn()
            else:  # the money goes back to the trade's refundable balance
                record.trade.refunded -= record.refund
            trade = record.trade
        if not record.notify_url:
            return None
        event_type, summary = REFUND_EVENTS[status]
        resource: dict[str, Any] = {
            "mchid": mchid,
            "out_trade_no": trade.out_trade_no,
            "transaction_id": trade.transaction_id,
            "out_refund_no": out_refund_no,
            "refund_id": record.refund_id,
            "refund_status": status,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": trade.total,
                "refund": record.refund,
                "payer_total": trade.total,
                "payer_refund": record.refund,
            },
        }
        if record.success_time:
            resource["success_time"] = record.success_time
        return self.build_callback(
            self.merchant(mchid) if merchant is None else merchant,
            event_type=event_type,
            summary=summary,
            original_type="refund",
            resource=resource,
            notify_url=record.notify_url,
            out_trade_no=trade.out_trade_no,
            timestamp=timestamp,
        )
