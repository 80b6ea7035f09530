"""What the customer is told of a fitting outside the app (SMS, WeChat template keywords)."""

from __future__ import annotations

from loopmall.notifications import compose

PAYLOAD = {
    "merchant_id": 1,
    "fitting_id": 7,
    "fitting_public_id": "fit_abc",
    "customer_id": 3,
    "store_id": 2,
    "store_name": "西单店",
    "store_address": "西单北大街 1 号",
    "guide_staff_id": 5,
    "guide_name": "小美",
    "starts_at": "2026-11-23T06:00:00+00:00",
    "title": "羊毛大衣 驼 / L",
}


def test_the_booking_and_the_reminder_texts() -> None:
    data = compose.data_for("fitting.booked", PAYLOAD)
    assert (data["fitting"], data["when"], data["store"]) == ("fit_abc", "11-23 14:00", "西单店")
    assert compose.sms_text("VERO", "fitting.booked", data) == (
        "【VERO】您已预约 11-23 14:00 到西单店试穿羊毛大衣 驼 / L，导购 小美 为您服务。"
    )
    assert compose.sms_text("VERO", "fitting.reminder", data) == (
        "【VERO】提醒：您预约的试穿 11-23 14:00 在西单店开始，导购 小美 恭候您。"
    )
    fields = {"thing1": "status", "time2": "when", "thing3": "store"}
    assert compose.template_values(fields, "fitting.reminder", data, "VERO") == {
        "thing1": "试穿提醒",
        "time2": "11-23 14:00",
        "thing3": "西单店",
    }


def test_order_texts_are_unchanged() -> None:
    data = compose.data_for("order.paid", {"number": "20261123", "total_fen": 59900})
    assert compose.sms_text("VERO", "order.paid", data) == (
        "【VERO】您的订单 20261123 已付款 ¥599.00，我们会尽快为您处理。"
    )
