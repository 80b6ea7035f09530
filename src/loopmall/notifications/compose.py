"""What each order step says: the inbox entry's data, the SMS text, the WeChat template
fields. Texts to the outside world are Chinese (WeChat and SMS show them as sent); the
inbox is rendered per language by the pages from ``topic`` and ``data``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loopmall.core import clock
from loopmall.core.money import format_yuan

ORDER_TOPICS = (
    "order.created",
    "order.paid",
    "order.shipped",
    "order.ready_for_pickup",
    "order.completed",
    "order.cancelled",
    "order.refunded",
)
# A guide booked a fitting for the customer; the fitting is soon (guides.events).
FITTING_TOPICS = ("fitting.booked", "fitting.reminder")
TOPICS = ORDER_TOPICS + FITTING_TOPICS

STATUS_ZH = {
    "order.created": "待付款",
    "order.paid": "已付款",
    "order.shipped": "已发货",
    "order.ready_for_pickup": "待自提",
    "order.completed": "已完成",
    "order.cancelled": "已取消",
    "order.refunded": "已退款",
    "fitting.booked": "已预约试穿",
    "fitting.reminder": "试穿提醒",
}

SMS_ZH = {
    "order.created": "您的订单 {number} 已提交，金额 ¥{amount}，请尽快完成付款。",
    "order.paid": "您的订单 {number} 已付款 ¥{amount}，我们会尽快为您处理。",
    "order.shipped": "您的订单 {number} 已发货，请留意查收。",
    "order.ready_for_pickup": "您的订单 {number} 已可到店自提，取货码 {pickup_code}。",
    "order.completed": "您的订单 {number} 已完成，感谢您的惠顾。",
    "order.cancelled": "您的订单 {number} 已取消。",
    "order.refunded": "您的订单 {number} 已退款 ¥{refund}，款项将原路退回。",
    "fitting.booked": "您已预约 {when} 到{store}试穿{title}，导购 {guide} 为您服务。",
    "fitting.reminder": "提醒：您预约的试穿 {when} 在{store}开始，导购 {guide} 恭候您。",
}


def inbox_data(payload: dict[str, Any]) -> dict[str, Any]:
    """The facts the inbox page needs to word the entry in any language."""
    refund = payload.get("refund_fen", payload.get("refunded_fen", 0))
    return {
        "number": str(payload.get("number") or payload.get("order_public_id", "")),
        "order": str(payload.get("order_public_id", "")),
        "total_fen": int(payload.get("total_fen", 0) or 0),
        "refund_fen": int(refund or 0),
        "pickup_code": str(payload.get("pickup_code", "") or ""),
    }


def fitting_data(payload: dict[str, Any]) -> dict[str, Any]:
    """The facts of a fitting message (``fitting.booked`` / ``fitting.reminder``)."""
    starts = datetime.fromisoformat(str(payload.get("starts_at")))
    return {
        "number": "",
        "order": "",
        "total_fen": 0,
        "refund_fen": 0,
        "pickup_code": "",
        "fitting": str(payload.get("fitting_public_id", "")),
        "when": clock.local(starts).strftime("%m-%d %H:%M"),
        "store": str(payload.get("store_name", "")),
        "title": str(payload.get("title", "")),
        "guide": str(payload.get("guide_name", "")),
    }


def data_for(topic: str, payload: dict[str, Any]) -> dict[str, Any]:
    return fitting_data(payload) if topic in FITTING_TOPICS else inbox_data(payload)


def sms_text(mall_name: str, topic: str, data: dict[str, Any]) -> str:
    body = SMS_ZH[topic].format(
        when=data.get("when", ""),
        store=data.get("store", ""),
        title=data.get("title", ""),
        guide=data.get("guide", ""),
        number=data["number"],
        amount=format_yuan(data["total_fen"]),
        refund=format_yuan(data["refund_fen"]),
        pickup_code=data["pickup_code"] or "-",
    )
    return f"【{mall_name}】{body}"


def template_values(
    fields: dict[str, str], topic: str, data: dict[str, Any], mall_name: str
) -> dict[str, str]:
    """Fill a WeChat template's keywords (``{"character_string1": "number", ...}``)."""
    facts = {
        "number": data["number"],
        "amount": f"¥{format_yuan(data['total_fen'])}",
        "refund": f"¥{format_yuan(data['refund_fen'])}",
        "status": STATUS_ZH[topic],
        "time": clock.local(clock.now()).strftime("%Y-%m-%d %H:%M"),
        "pickup_code": data["pickup_code"] or "-",
        "mall": mall_name,
        "when": str(data.get("when", "")),
        "store": str(data.get("store", "")),
    }
    # WeChat caps "thing" keywords at 20 characters.
    return {key: facts.get(what, what)[:20] for key, what in fields.items()}
