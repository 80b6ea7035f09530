"""Face-to-face trades and refunds of the Alipay stand-in (a mixin of :class:`AlipayStandin`)."""

from __future__ import annotations

import secrets
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loopmall.core.clock import SHANGHAI
from loopmall.integrations.alipay.signing import fen_to_yuan, yuan_to_fen
from loopmall.standins.alipay_models import (
    TIME_FORMAT,
    AliApp,
    AliError,
    AliRefund,
    AliTrade,
    business_failed,
    invalid_arguments,
    now_cn,
)

if TYPE_CHECKING:
    from loopmall.standins.delivery import RecordedCallback

MAX_FEN = 100_000_000_00


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


class AliTrades:
    apps: dict[str, AliApp]
    trades: dict[tuple[str, str], AliTrade]
    lock: threading.RLock
    refund_notify: bool

    if TYPE_CHECKING:

        def now(self) -> float: ...
        def build_notify(
            self, app: AliApp, fields: dict[str, str], notify_url: str
        ) -> RecordedCallback: ...
        def notify_fields(self, app: AliApp, trade: AliTrade, **extra: str) -> dict[str, str]: ...
        async def deliver(self, cb: RecordedCallback) -> bool: ...
        def spawn(self, coro: Any) -> None: ...

    def call(
        self, app: AliApp, method: str, biz: dict[str, Any], params: dict[str, str], base_url: str
    ) -> dict[str, Any]:
        """One gateway method: the inner ``*_response`` object (AliError for failures)."""
        if method == "alipay.trade.precreate":
            return self.precreate(app, biz, params.get("notify_url"), base_url)
        if method == "alipay.trade.query":
            return self.find(app, biz).query_answer()
        if method == "alipay.trade.close":
            return self.close(app, biz)
        if method == "alipay.trade.refund":
            return self.refund(app, biz)
        if method == "alipay.trade.fastpay.refund.query":
            return self.refund_query(app, biz)
        raise invalid_arguments("isv.invalid-method", "不存在的方法名")

    def precreate(
        self, app: AliApp, biz: dict[str, Any], notify_url: str | None, base_url: str
    ) -> dict[str, Any]:
        out_trade_no = str(biz.get("out_trade_no") or "")
        subject = str(biz.get("subject") or "")
        if not out_trade_no or len(out_trade_no) > 64 or not subject:
            raise invalid_arguments("isv.missing-parameter", "缺少必选参数 out_trade_no / subject")
        try:
            fen = yuan_to_fen(str(biz.get("total_amount", "")))
        except ValueError:
            raise invalid_arguments("isv.invalid-parameter", "total_amount 格式错误") from None
        if not 1 <= fen <= MAX_FEN:
            raise business_failed("ACQ.TOTAL_FEE_EXCEED", "订单金额超过限额")
        expire = None
        if biz.get("time_expire"):
            try:
                expire = datetime.strptime(str(biz["time_expire"]), TIME_FORMAT)
            except ValueError:
                raise invalid_arguments("isv.invalid-parameter", "time_expire 格式错误") from None
        with self.lock:
            existing = self.trades.get((app.app_id, out_trade_no))
            if existing is not None:
                if existing.trade_status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
                    raise business_failed("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
                if existing.trade_status == "TRADE_CLOSED":
                    raise business_failed("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
                if existing.total_fen != fen or existing.subject != subject:
                    raise business_failed("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
                trade = existing
            else:
                trade = AliTrade(
                    app_id=app.app_id,
                    out_trade_no=out_trade_no,
                    subject=subject,
                    total_fen=fen,
                    notify_url=notify_url,
                    qr_token="bax0" + secrets.token_hex(10),
                    trade_no=datetime.now(SHANGHAI).strftime("%Y%m%d") + "22001" + _digits(15),
                    time_expire=expire.replace(tzinfo=SHANGHAI) if expire else None,
                )
                self.trades[(app.app_id, out_trade_no)] = trade
        return {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": out_trade_no,
            "qr_code": f"{base_url}/qr/{trade.qr_token}",
        }

    def find(self, app: AliApp, biz: dict[str, Any]) -> AliTrade:
        with self.lock:
            for trade in self.trades.values():
                if trade.app_id == app.app_id and (
                    trade.out_trade_no == biz.get("out_trade_no")
                    or trade.trade_no == biz.get("trade_no")
                ):
                    return trade
        raise business_failed("ACQ.TRADE_NOT_EXIST", "交易不存在")

    def trade_by_token(self, token: str) -> AliTrade:
        with self.lock:
            for trade in self.trades.values():
                if trade.qr_token == token:
                    return trade
        raise business_failed("ACQ.TRADE_NOT_EXIST", "交易不存在")

    def close(self, app: AliApp, biz: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            trade = self.find(app, biz)
            if trade.trade_status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
                raise business_failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            trade.trade_status = "TRADE_CLOSED"
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
        }

    def complete_payment(
        self,
        app_id: str,
        out_trade_no: str,
        *,
        buyer_id: str | None = None,
        ignore_expiry: bool = False,
    ) -> RecordedCallback | None:
        """The buyer pays: TRADE_SUCCESS, and its notify is built (None without notify_url)."""
        app = self.apps[app_id]
        with self.lock:
            trade = self.find(app, {"out_trade_no": out_trade_no})
            if trade.trade_status != "WAIT_BUYER_PAY":
                raise business_failed("ACQ.TRADE_STATUS_ERROR", "交易已支付或已关闭")
            if (
                not ignore_expiry
                and trade.time_expire is not None
                and self.now() > trade.time_expire.timestamp()
            ):
                raise business_failed("ACQ.TRADE_HAS_CLOSE", "交易已过期")
            trade.trade_status = "TRADE_SUCCESS"
            trade.gmt_payment = now_cn()
            trade.buyer_id = buyer_id or "2088" + _digits(12)
            trade.buyer_logon_id = "loo***@example.com"
            fields = self.notify_fields(app, trade)
        if not trade.notify_url:
            return None
        return self.build_notify(app, fields, trade.notify_url)

    def refund(self, app: AliApp, biz: dict[str, Any]) -> dict[str, Any]:
        try:
            fen = yuan_to_fen(str(biz.get("refund_amount", "")))
        except ValueError:
            raise invalid_arguments("isv.invalid-parameter", "refund_amount 格式错误") from None
        with self.lock:
            trade = self.find(app, biz)
            request_no = str(biz.get("out_request_no") or trade.out_trade_no)
            previous = trade.refunds.get(request_no)
            if previous is not None:
                if previous.fen != fen:
                    raise business_failed("ACQ.REQUEST_AMOUNT_EXCEED", "请求退款金额与原请求不一致")
                return self._refund_answer(trade, previous, fund_change="N")
            if trade.trade_status != "TRADE_SUCCESS":
                raise business_failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            if fen <= 0 or fen > trade.total_fen - trade.refunded_fen:
                raise business_failed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            record = AliRefund(out_request_no=request_no, fen=fen, gmt_refund=now_cn())
            trade.refunds[request_no] = record
            if trade.refunded_fen == trade.total_fen:
                trade.trade_status = "TRADE_CLOSED"
            answer = self._refund_answer(trade, record, fund_change="Y")
            if self.refund_notify and trade.notify_url:
                fields = self.notify_fields(
                    app,
                    trade,
                    out_biz_no=request_no,
                    refund_fee=fen_to_yuan(trade.refunded_fen),
                    gmt_refund=record.gmt_refund,
                )
                cb = self.build_notify(app, fields, trade.notify_url)
                self.spawn(self.deliver(cb))
        return answer

    @staticmethod
    def _refund_answer(trade: AliTrade, record: AliRefund, *, fund_change: str) -> dict[str, Any]:
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": trade.buyer_logon_id,
            "buyer_user_id": trade.buyer_id,
            "fund_change": fund_change,
            "refund_fee": fen_to_yuan(trade.refunded_fen),
            "gmt_refund_pay": record.gmt_refund,
        }

    def refund_query(self, app: AliApp, biz: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            trade = self.find(app, biz)
            record = trade.refunds.get(str(biz.get("out_request_no", "")))
        answer: dict[str, Any] = {"code": "10000", "msg": "Success"}
        if record is not None:  # an unknown request is a success with no refund in it
            answer |= {
                "trade_no": trade.trade_no,
                "out_trade_no": trade.out_trade_no,
                "out_request_no": record.out_request_no,
                "total_amount": fen_to_yuan(trade.total_fen),
                "refund_amount": fen_to_yuan(record.fen),
                "refund_status": "REFUND_SUCCESS",
                "gmt_refund_pay": record.gmt_refund,
            }
        return answer


__all__ = ["AliError", "AliTrades"]
