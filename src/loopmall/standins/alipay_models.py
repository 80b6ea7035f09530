"""The records of the Alipay stand-in: apps and face-to-face trades."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loopmall.core.clock import SHANGHAI
from loopmall.integrations.alipay.signing import fen_to_yuan

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def now_cn() -> str:
    return datetime.now(SHANGHAI).strftime(TIME_FORMAT)


class AliError(Exception):
    """A business answer other than 10000: ``code``/``sub_code`` as Alipay sends them."""

    def __init__(self, code: str, msg: str, sub_code: str, sub_msg: str) -> None:
        super().__init__(f"{code} {sub_code}: {sub_msg}")
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg

    def as_json(self) -> dict[str, str]:
        return {
            "code": self.code,
            "msg": self.msg,
            "sub_code": self.sub_code,
            "sub_msg": self.sub_msg,
        }


def business_failed(sub_code: str, sub_msg: str) -> AliError:
    return AliError("40004", "Business Failed", sub_code, sub_msg)


def invalid_arguments(sub_code: str, sub_msg: str) -> AliError:
    return AliError("40002", "Invalid Arguments", sub_code, sub_msg)


@dataclass
class AliApp:
    app_id: str
    seller_id: str
    app_public_key_pem: str
    alipay_private_key_pem: str
    name: str


@dataclass
class AliRefund:
    out_request_no: str
    fen: int
    gmt_refund: str


@dataclass
class AliTrade:
    app_id: str
    out_trade_no: str
    subject: str
    total_fen: int
    notify_url: str | None
    qr_token: str
    trade_no: str
    time_expire: datetime | None = None
    trade_status: str = "WAIT_BUYER_PAY"
    gmt_create: str = field(default_factory=now_cn)
    gmt_payment: str | None = None
    buyer_id: str | None = None
    buyer_logon_id: str | None = None
    refunds: dict[str, AliRefund] = field(default_factory=dict)

    @property
    def refunded_fen(self) -> int:
        return sum(r.fen for r in self.refunds.values())

    def query_answer(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": "10000",
            "msg": "Success",
            "trade_no": self.trade_no,
            "out_trade_no": self.out_trade_no,
            "trade_status": self.trade_status,
            "total_amount": fen_to_yuan(self.total_fen),
        }
        if self.gmt_payment:
            out |= {
                "buyer_logon_id": self.buyer_logon_id,
                "buyer_user_id": self.buyer_id,
                "buyer_pay_amount": fen_to_yuan(self.total_fen),
                "receipt_amount": fen_to_yuan(self.total_fen),
                "send_pay_date": self.gmt_payment,
            }
        return out
