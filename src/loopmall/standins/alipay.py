"""An Alipay gateway (gateway.do) stand-in: the state and protocol of Alipay's side.

It accepts GET and POST (query and form merged), checks app_id, sign_type RSA2, the
timestamp (Beijing time, ±15 min) and the RSA2 signature over the sorted ``k=v`` string
(``sign`` excluded, ``sign_type`` included), keeps face-to-face trades and refunds, answers
``{"<method>_response":{…},"sign":"…"}`` signed over the inner JSON text, and builds
form-encoded notifies signed without ``sign``/``sign_type`` that it records and delivers
(acknowledged only by the literal ``success``). Routes: :mod:`loopmall.standins.alipay_routes`.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from loopmall.core.clock import SHANGHAI
from loopmall.integrations.alipay import signing
from loopmall.standins.alipay_models import (
    TIME_FORMAT,
    AliApp,
    AliTrade,
    invalid_arguments,
    now_cn,
)
from loopmall.standins.alipay_trades import AliTrades
from loopmall.standins.delivery import CallbackLog, RecordedCallback, deliver
from loopmall.standins.keys import AlipayAppKeys


class AlipayStandin(AliTrades):
    """Alipay's side for any number of apps.

    ``skew_seconds`` moves its clock (timestamp window tests); ``refund_notify`` sends the
    trade_status_sync notify Alipay sends after a refund; ``retry_delays`` as for WeChat.
    """

    provider = "alipay"

    def __init__(
        self,
        *,
        window_seconds: int = 900,
        skew_seconds: float = 0.0,
        refund_notify: bool = True,
        retry_delays: tuple[float, ...] = (),
    ) -> None:
        self.window_seconds = window_seconds
        self.skew_seconds = skew_seconds
        self.refund_notify = refund_notify
        self.retry_delays = retry_delays
        self.apps: dict[str, AliApp] = {}
        self.trades: dict[tuple[str, str], AliTrade] = {}
        self.callbacks = CallbackLog()
        self.lock = threading.RLock()
        self._tasks: set[asyncio.Task[Any]] = set()
        from loopmall.standins.alipay_routes import build_app

        self.app = build_app(self)

    def add_app(self, keys: AlipayAppKeys) -> AliApp:
        c = keys.config
        app = AliApp(
            app_id=c.app_id,
            seller_id=c.seller_id
            or "2088" + "".join(secrets.choice("0123456789") for _ in range(12)),
            app_public_key_pem=keys.app_public_key_pem,
            alipay_private_key_pem=keys.alipay_private_key_pem,
            name=keys.name,
        )
        with self.lock:
            self.apps[c.app_id] = app
        return app

    def now(self) -> float:
        return time.time() + self.skew_seconds

    def reset(self) -> None:
        with self.lock:
            self.trades.clear()
            self.callbacks.clear()

    def authenticate(self, params: dict[str, str]) -> AliApp:
        """The common-parameter and signature checks of gateway.do; raises 40002 like Alipay."""
        app = self.apps.get(params.get("app_id", ""))
        if app is None:
            raise invalid_arguments("isv.invalid-app-id", "无效的AppID参数")
        if params.get("sign_type") != "RSA2":
            raise invalid_arguments("isv.invalid-signature-type", "无效的签名类型")
        if params.get("charset", "utf-8").lower() != "utf-8":
            raise invalid_arguments("isv.invalid-charset", "字符集错误")
        try:
            stamped = datetime.strptime(params.get("timestamp", ""), TIME_FORMAT)
        except ValueError:
            raise invalid_arguments("isv.invalid-timestamp", "非法的时间戳参数") from None
        if abs(stamped.replace(tzinfo=SHANGHAI).timestamp() - self.now()) > self.window_seconds:
            raise invalid_arguments("isv.invalid-timestamp", "时间戳参数超过有效时间（前后15分钟）")
        if not signing.rsa_verify(
            app.app_public_key_pem, signing.content_to_sign(params), params.get("sign", "")
        ):
            raise invalid_arguments(
                "isv.invalid-signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配"
            )
        return app

    def signed_answer(self, app: AliApp, method: str, inner: dict[str, Any]) -> str:
        return signing.signed_response(method, inner, app.alipay_private_key_pem)

    def build_notify(
        self, app: AliApp, fields: dict[str, str], notify_url: str
    ) -> RecordedCallback:
        """A genuine notify: the fields plus ``sign`` over them (without sign/sign_type)."""
        # an empty field is not sent at all (the SDK's verify would count it as "k=")
        fields = {k: str(v) for k, v in fields.items() if str(v) != ""}
        fields.setdefault("sign_type", "RSA2")
        content = signing.content_to_sign(fields, exclude=("sign", "sign_type"))
        signed = {**fields, "sign": signing.rsa_sign(app.alipay_private_key_pem, content)}
        status = fields.get("trade_status", "")
        cb = RecordedCallback(
            provider=self.provider,
            url=notify_url,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            body=urlencode(signed),
            event=f"trade_status_sync:{status}" + (":refund" if "out_biz_no" in fields else ""),
            out_trade_no=fields.get("out_trade_no", ""),
            merchant=app.app_id,
        )
        return self.callbacks.add(cb)

    def notify_fields(self, app: AliApp, trade: AliTrade, **extra: str) -> dict[str, str]:
        amount = signing.fen_to_yuan(trade.total_fen)
        fields = {
            "notify_time": now_cn(),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(17),
            "app_id": app.app_id,
            "auth_app_id": app.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_id": trade.buyer_id or "",
            "buyer_logon_id": trade.buyer_logon_id or "",
            "seller_id": app.seller_id,
            "trade_status": trade.trade_status,
            "total_amount": amount,
            "receipt_amount": amount,
            "invoice_amount": amount,
            "buyer_pay_amount": amount,
            "point_amount": "0.00",
            "gmt_create": trade.gmt_create,
            "gmt_payment": trade.gmt_payment or "",
            "subject": trade.subject,
            "fund_bill_list": f'[{{"amount":"{amount}","fundChannel":"ALIPAYACCOUNT"}}]',
        }
        fields.update(extra)
        return {k: v for k, v in fields.items() if v != ""}

    async def deliver(self, cb: RecordedCallback) -> bool:
        attempt = await deliver(cb, _alipay_ack)
        for delay in self.retry_delays:
            if attempt.acknowledged:
                break
            await asyncio.sleep(delay)
            attempt = await deliver(cb, _alipay_ack)
        return attempt.acknowledged

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _alipay_ack(resp: httpx.Response) -> bool:
    return resp.status_code == 200 and resp.text.strip() == "success"
