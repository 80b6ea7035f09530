"""The records of the WeChat Pay stand-in: merchants, trades (Transaction objects), refunds."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loopmall.core.clock import SHANGHAI

TRADE_STATE_DESC = {
    "SUCCESS": "支付成功",
    "NOTPAY": "未支付",
    "CLOSED": "已关闭",
    "REFUND": "转入退款",
}
REFUND_EVENTS = {
    "SUCCESS": ("REFUND.SUCCESS", "退款成功"),
    "ABNORMAL": ("REFUND.ABNORMAL", "退款异常"),
    "CLOSED": ("REFUND.CLOSED", "退款关闭"),
}


class WxError(Exception):
    """An error answer: HTTP status + WeChat's code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def now_cn() -> str:
    return datetime.now(SHANGHAI).isoformat(timespec="seconds")


def digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


@dataclass
class WxMerchant:
    mchid: str
    appid: str
    apiv3_key: str
    merchant_public_key_pem: str
    merchant_serial_no: str
    platform_private_key_pem: str
    platform_public_key_id: str
    name: str


@dataclass
class WxTrade:
    mchid: str
    appid: str
    out_trade_no: str
    trade_type: str  # JSAPI | NATIVE | MWEB | APP
    description: str
    total: int
    notify_url: str
    request: dict[str, Any]  # the order body, to tell a repeat from a clash
    prepay_id: str
    answer: dict[str, Any]  # prepay_id / code_url / h5_url
    attach: str | None = None
    time_expire: datetime | None = None
    payer_openid: str | None = None
    trade_state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: str | None = None
    refunded: int = 0

    def transaction(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "trade_type": self.trade_type,
            "trade_state": self.trade_state,
            "trade_state_desc": TRADE_STATE_DESC[self.trade_state],
        }
        if self.attach:
            out["attach"] = self.attach
        if self.transaction_id:
            out |= {
                "transaction_id": self.transaction_id,
                "bank_type": "OTHERS",
                "success_time": self.success_time,
                "payer": {"openid": self.payer_openid},
            }
        out["amount"] = {
            "total": self.total,
            "payer_total": self.total if self.transaction_id else 0,
            "currency": "CNY",
            "payer_currency": "CNY",
        }
        return out


@dataclass
class WxRefund:
    mchid: str
    out_refund_no: str
    refund_id: str
    trade: WxTrade
    refund: int
    request: dict[str, Any]
    notify_url: str | None
    reason: str | None
    status: str = "PROCESSING"
    create_time: str = field(default_factory=now_cn)
    success_time: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.trade.transaction_id,
            "out_trade_no": self.trade.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": self.create_time,
            "status": self.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": self.trade.total,
                "refund": self.refund,
                "payer_total": self.trade.total,
                "payer_refund": self.refund,
                "settlement_total": self.trade.total,
                "settlement_refund": self.refund,
                "discount_refund": 0,
                "currency": "CNY",
            },
        }
        if self.success_time:
            out["success_time"] = self.success_time
        return out
