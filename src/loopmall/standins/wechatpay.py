"""A WeChat Pay API v3 stand-in: the state and the protocol of WeChat's side.

It verifies our signed requests (scheme, mchid, merchant serial, ±5 min timestamp, RSA over
the five-line string), keeps trades and refunds per merchant, signs every answer with the
merchant's platform key (``Wechatpay-Serial: PUB_KEY_ID_…``), and builds genuine callbacks
(AES-256-GCM resource under the APIv3 key, signed headers) that it records and delivers.
HTTP routes: :mod:`loopmall.standins.wechatpay_routes`. Use ``WeChatPayStandin().app``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
import uuid
from typing import Any

import httpx

from loopmall.integrations.wechatpay import signing
from loopmall.standins.delivery import CallbackLog, RecordedCallback, deliver
from loopmall.standins.keys import WeChatPayMerchantKeys
from loopmall.standins.wechatpay_models import WxError, WxMerchant, WxRefund, WxTrade, now_cn
from loopmall.standins.wechatpay_trades import WxTrades


class WeChatPayStandin(WxTrades):
    """WeChat Pay's side for any number of merchants.

    ``refund_delay``: seconds until a PROCESSING refund completes by itself (and its
    REFUND.SUCCESS callback goes out); ``None`` leaves refunds PROCESSING until
    :meth:`complete_refund`. ``skew_seconds`` moves the stand-in's own clock (to test the
    timestamp window). ``retry_delays``: when a callback is not acknowledged, try again
    after each of these many seconds (WeChat's schedule is 15 s, 15 s, 30 s, 3 min, …).
    """

    provider = "wechatpay"

    def __init__(
        self,
        *,
        refund_delay: float | None = 0.05,
        window_seconds: int = 300,
        skew_seconds: float = 0.0,
        retry_delays: tuple[float, ...] = (),
    ) -> None:
        self.refund_delay = refund_delay
        self.window_seconds = window_seconds
        self.skew_seconds = skew_seconds
        self.retry_delays = retry_delays
        self.merchants: dict[str, WxMerchant] = {}
        self.trades: dict[tuple[str, str], WxTrade] = {}
        self.refunds: dict[tuple[str, str], WxRefund] = {}
        self.callbacks = CallbackLog()
        self.lock = threading.RLock()
        self._tasks: set[asyncio.Task[Any]] = set()
        from loopmall.standins.wechatpay_routes import build_app

        self.app = build_app(self)

    # --- merchants ---------------------------------------------------------------------

    def add_merchant(self, keys: WeChatPayMerchantKeys) -> WxMerchant:
        c = keys.config
        merchant = WxMerchant(
            mchid=c.mchid,
            appid=c.appid,
            apiv3_key=c.apiv3_key,
            merchant_public_key_pem=keys.merchant_public_key_pem,
            merchant_serial_no=c.merchant_serial_no,
            platform_private_key_pem=keys.platform_private_key_pem,
            platform_public_key_id=c.platform_public_key_id,
            name=keys.name,
        )
        with self.lock:
            self.merchants[c.mchid] = merchant
        return merchant

    def merchant(self, mchid: str) -> WxMerchant:
        m = self.merchants.get(mchid)
        if m is None:
            raise WxError(400, "MCH_NOT_EXISTS", "商户号不存在")
        return m

    def now(self) -> float:
        return time.time() + self.skew_seconds

    def reset(self) -> None:
        with self.lock:
            self.trades.clear()
            self.refunds.clear()
            self.callbacks.clear()

    # --- request authentication and answer signing -------------------------------------

    def authenticate(self, method: str, url: str, headers: dict[str, str], body: str) -> WxMerchant:
        """Check the ``Authorization`` of a request; raises 401 SIGN_ERROR like WeChat."""
        try:
            auth = signing.parse_authorization(headers.get("authorization", ""))
        except ValueError as exc:
            raise WxError(401, "SIGN_ERROR", f"Authorization 格式错误: {exc}") from None
        merchant = self.merchants.get(auth["mchid"])
        if merchant is None:
            raise WxError(401, "SIGN_ERROR", "商户号不存在")
        if auth["serial_no"] != merchant.merchant_serial_no:
            raise WxError(401, "SIGN_ERROR", "商户证书序列号有误")
        try:
            ts = int(auth["timestamp"])
        except ValueError:
            raise WxError(401, "SIGN_ERROR", "时间戳格式错误") from None
        if abs(self.now() - ts) > self.window_seconds:
            raise WxError(401, "SIGN_ERROR", "时间戳与当前时间相差过大")
        message = signing.request_signing_string(
            method, url, auth["timestamp"], auth["nonce_str"], body
        )
        if not signing.rsa_verify(merchant.merchant_public_key_pem, message, auth["signature"]):
            raise WxError(401, "SIGN_ERROR", "签名错误")
        serial = headers.get("wechatpay-serial")
        if serial and serial != merchant.platform_public_key_id:
            raise WxError(400, "PARAM_ERROR", "Wechatpay-Serial 与微信支付公钥ID不匹配")
        return merchant

    def signed_headers(
        self, merchant: WxMerchant, body: str, *, timestamp: int | None = None
    ) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(self.now()))
        nonce = secrets.token_hex(16)
        sig = signing.rsa_sign(
            merchant.platform_private_key_pem, signing.response_signing_string(ts, nonce, body)
        )
        headers = {
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": sig,
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Serial": merchant.platform_public_key_id,
            "Wechatpay-Signature-Type": signing.SIGNATURE_TYPE,
            "Request-ID": uuid.uuid4().hex.upper(),
        }
        if body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        return headers

    # --- callbacks ---------------------------------------------------------------------

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
    ) -> RecordedCallback:
        """A genuine notification: compact JSON, AES-256-GCM resource, signed headers."""
        nonce = secrets.token_urlsafe(9)[:12]
        plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
        envelope = {
            "id": str(uuid.uuid4()),
            "create_time": now_cn(),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": signing.aead_encrypt(
                    merchant.apiv3_key, nonce, original_type, plaintext
                ),
                "associated_data": original_type,
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        headers = self.signed_headers(merchant, body, timestamp=timestamp)
        headers["Content-Type"] = "application/json"
        headers.pop("Request-ID")
        cb = RecordedCallback(
            provider=self.provider,
            url=notify_url,
            headers=headers,
            body=body,
            event=event_type,
            out_trade_no=out_trade_no,
            merchant=merchant.mchid,
        )
        return self.callbacks.add(cb)

    async def deliver(self, cb: RecordedCallback) -> bool:
        """POST it; on no acknowledgement (anything but 200/204) retry per ``retry_delays``."""
        attempt = await deliver(cb, _wechat_ack)
        for delay in self.retry_delays:
            if attempt.acknowledged:
                break
            await asyncio.sleep(delay)
            attempt = await deliver(cb, _wechat_ack)
        return attempt.acknowledged

    def spawn(self, coro: Any) -> None:
        """Run a coroutine in the current (server) loop, keeping a reference to it."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _wechat_ack(resp: httpx.Response) -> bool:
    return resp.status_code in (200, 204)
