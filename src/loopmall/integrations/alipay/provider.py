"""Alipay face-to-face (当面付) through ``python-alipay-sdk``, as a :class:`PaymentProvider`.

The SDK is synchronous (``urllib``, GET with everything in the query string); calls run in a
worker thread. Two of its traps are handled here: the gateway is a private attribute
(``_gateway``), and it stamps ``timestamp`` in the server's local zone while Alipay reads it as
Beijing time (±15 min), so a UTC server would be refused: :class:`_AliPay` stamps Beijing time.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig as _SdkConfig

from loopmall.core.clock import SHANGHAI
from loopmall.integrations.alipay import signing
from loopmall.integrations.alipay.config import AlipayConfig
from loopmall.integrations.payment_provider import (
    CallbackEvent,
    CallbackRejected,
    CallbackReply,
    PayMethod,
    PayRequest,
    PayStart,
    ProviderError,
    RefundRequest,
    RefundResult,
    TradeState,
    TradeStatus,
)

if TYPE_CHECKING:
    from loopmall.config import Settings

_TRADE_STATES: dict[str, TradeState] = {
    "WAIT_BUYER_PAY": "unpaid",
    "TRADE_SUCCESS": "paid",
    "TRADE_FINISHED": "paid",
    "TRADE_CLOSED": "closed",
}
_NOT_EXIST = "ACQ.TRADE_NOT_EXIST"
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class _AliPay(AliPay):  # type: ignore[misc]
    def build_body(self, method: str, biz_content: Any = None, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().build_body(method, biz_content, **kwargs)
        data["timestamp"] = datetime.now(SHANGHAI).strftime(_TIME_FORMAT)
        return data


def parse_beijing_time(value: str | None) -> datetime | None:
    """Alipay's ``2019-08-15 15:56:24`` (Beijing time) to an aware UTC datetime."""
    if not value:
        return None
    try:
        return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=SHANGHAI).astimezone(UTC)
    except ValueError:
        return None


class AlipayProvider:
    """One merchant's Alipay app. Thread-safe; build once per account and keep it."""

    name = "alipay"

    def __init__(
        self,
        config: AlipayConfig,
        *,
        gateway_url: str = "https://openapi.alipay.com/gateway.do",
        timeout_seconds: float = 10.0,
    ) -> None:
        self.config = config
        self._client = _AliPay(
            appid=config.app_id,
            app_private_key_string=config.app_private_key_pem,
            alipay_public_key_string=config.alipay_public_key_pem,
            sign_type="RSA2",
            config=_SdkConfig(timeout=timeout_seconds),
        )
        self._client._gateway = gateway_url  # no public seam for the gateway (PROTOCOLS §4.2)

    # --- calls -----------------------------------------------------------------------

    async def _call(self, fn: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self._call_sync, fn, kwargs)

    @staticmethod
    def _call_sync(fn: Callable[..., dict[str, Any]], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            return fn(**kwargs)
        except AliPayValidationError as exc:
            raise ProviderError(
                "RESPONSE_SIGNATURE_INVALID", "answer not signed by Alipay", retryable=True
            ) from exc
        except AliPayException as exc:  # error_response, or an answer without sign
            raise _error_from_raw(str(exc)) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ProviderError("NETWORK_ERROR", str(exc), retryable=True) from exc

    @staticmethod
    def _error(data: Mapping[str, Any]) -> ProviderError:
        code = str(data.get("code", ""))
        sub = str(data.get("sub_code") or code or "UNKNOWN")
        message = str(data.get("sub_msg") or data.get("msg") or "")
        return ProviderError(
            sub, message, retryable=code == "20000" or sub.endswith("SYSTEM_ERROR")
        )

    async def start(self, request: PayRequest) -> PayStart:
        if request.method is not PayMethod.ALIPAY_QR:
            raise ProviderError("UNSUPPORTED_METHOD", f"Alipay cannot {request.method}")
        biz: dict[str, Any] = {
            "time_expire": request.expires_at.astimezone(SHANGHAI).strftime(_TIME_FORMAT),
        }
        if request.attach:
            biz["body"] = request.attach
        data = await self._call(
            self._client.api_alipay_trade_precreate,
            subject=request.description,
            out_trade_no=request.out_trade_no,
            total_amount=signing.fen_to_yuan(request.amount_fen),
            notify_url=request.notify_url,
            **biz,
        )
        if data.get("code") != "10000" or not data.get("qr_code"):
            raise self._error(data)
        return PayStart(method=request.method, qr_content=str(data["qr_code"]))

    async def query(self, out_trade_no: str) -> TradeStatus:
        """The trade as Alipay sees it. Alipay creates a precreated trade only when it is
        scanned, so ``ACQ.TRADE_NOT_EXIST`` means ``unpaid``."""
        data = await self._call(self._client.api_alipay_trade_query, out_trade_no=out_trade_no)
        if data.get("code") != "10000":
            if data.get("sub_code") == _NOT_EXIST:
                return TradeStatus(out_trade_no=out_trade_no, state="unpaid")
            raise self._error(data)
        amount = data.get("total_amount")
        return TradeStatus(
            out_trade_no=out_trade_no,
            state=_TRADE_STATES.get(str(data.get("trade_status")), "unknown"),
            amount_fen=signing.yuan_to_fen(amount) if amount else None,
            provider_trade_no=data.get("trade_no"),
            paid_at=parse_beijing_time(data.get("send_pay_date")),
            payer_ref=data.get("buyer_user_id") or data.get("buyer_open_id"),
        )

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid trade. Idempotent; an unknown trade counts as closed. Raises
        ProviderError ``ACQ.TRADE_STATUS_ERROR`` if it was paid meanwhile."""
        data = await self._call(self._client.api_alipay_trade_close, out_trade_no=out_trade_no)
        if data.get("code") == "10000" or data.get("sub_code") == _NOT_EXIST:
            return
        raise self._error(data)

    async def refund(self, request: RefundRequest) -> RefundResult:
        """Alipay refunds synchronously; the same ``out_refund_no`` (out_request_no) again
        is answered with success and no second movement of money."""
        data = await self._call(
            self._client.api_alipay_trade_refund,
            refund_amount=signing.fen_to_yuan(request.refund_fen),
            out_trade_no=request.out_trade_no,
            out_request_no=request.out_refund_no,
            refund_reason=request.reason,
        )
        if data.get("code") != "10000":
            raise self._error(data)
        return RefundResult(
            out_refund_no=request.out_refund_no,
            state="succeeded",
            provider_refund_no=data.get("trade_no"),
        )

    async def query_refund(self, out_trade_no: str, out_refund_no: str) -> RefundResult:
        data = await self._call(
            self._client.api_alipay_trade_fastpay_refund_query,
            out_request_no=out_refund_no,
            out_trade_no=out_trade_no,
        )
        if data.get("code") != "10000":
            raise self._error(data)
        done = data.get("refund_status") == "REFUND_SUCCESS" or (
            "refund_status" not in data and bool(data.get("refund_amount"))
        )
        return RefundResult(
            out_refund_no=out_refund_no,
            state="succeeded" if done else "processing",
            provider_refund_no=data.get("trade_no"),
        )

    # --- notifies ----------------------------------------------------------------------

    def parse_callback(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime
    ) -> CallbackEvent:
        """Verify an asynchronous notify (form-encoded, RSA2 over the sorted fields without
        ``sign`` and ``sign_type``) and check it is for this app (and seller).

        Alipay notifies carry no freshness guarantee (retries span 25 h), so ``now`` is not
        used; duplicates are the caller's to absorb.
        """
        try:
            pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise CallbackRejected("malformed form") from None
        form = dict(pairs)
        if len(form) != len(pairs):
            raise CallbackRejected("repeated field")
        sign = form.pop("sign", "")
        if not sign:
            raise CallbackRejected("missing sign")
        if form.get("sign_type") != "RSA2":
            raise CallbackRejected("unsupported sign type")
        try:
            # verify() pops sign_type from the dict it is given: hand it a copy
            verified = self._client.verify(dict(form), sign)
        except Exception:  # binascii.Error for a sign that is not base64, AliPayException
            verified = False
        if not verified:
            raise CallbackRejected("bad signature")
        if form.get("app_id") != self.config.app_id:
            raise CallbackRejected("notify for another app")
        if self.config.seller_id and form.get("seller_id") != self.config.seller_id:
            raise CallbackRejected("notify for another seller")
        return self._event(form)

    @staticmethod
    def _event(form: dict[str, str]) -> CallbackEvent:
        try:
            total = signing.yuan_to_fen(form["total_amount"]) if form.get("total_amount") else None
            refunded = signing.yuan_to_fen(form["refund_fee"]) if form.get("refund_fee") else None
        except ValueError:
            raise CallbackRejected("malformed amount") from None
        common: dict[str, Any] = {
            "provider_event_id": form.get("notify_id", ""),
            "out_trade_no": form.get("out_trade_no", ""),
            "provider_trade_no": form.get("trade_no"),
            "app_id": form.get("app_id"),
            "merchant_no": form.get("seller_id"),
            "raw": form,
        }
        if form.get("out_biz_no") and refunded is not None:
            # refund_fee is the trade's total refunded so far, not this refund's amount
            return CallbackEvent(
                kind="refund",
                state="refund_succeeded",
                amount_fen=refunded,
                out_refund_no=form["out_biz_no"],
                occurred_at=parse_beijing_time(form.get("gmt_refund")),
                **common,
            )
        status = form.get("trade_status", "")
        state: Any = {"TRADE_SUCCESS": "paid", "TRADE_FINISHED": "paid"}.get(status, "other")
        if status == "TRADE_CLOSED":
            state = "closed"
        return CallbackEvent(
            kind="payment",
            state=state,
            amount_fen=total,
            occurred_at=parse_beijing_time(form.get("gmt_payment")),
            **common,
        )

    def accepted(self) -> CallbackReply:
        return CallbackReply(status_code=200, body=b"success", media_type="text/plain")

    def rejected(self, reason: str) -> CallbackReply:
        return CallbackReply(status_code=200, body=b"fail", media_type="text/plain")


def _error_from_raw(text: str) -> ProviderError:
    """AliPayException carries the raw answer in its message; dig out the codes."""
    raw = text.split("message:", 1)[-1]
    try:
        outer = json.loads(raw)
    except json.JSONDecodeError:
        return ProviderError("BAD_ANSWER", raw[:200], retryable=True)
    inner = next((v for v in outer.values() if isinstance(v, dict)), {})
    code = str(inner.get("code", ""))
    sub = str(inner.get("sub_code") or code or "UNKNOWN")
    return ProviderError(
        sub, str(inner.get("sub_msg") or inner.get("msg") or ""), retryable=code == "20000"
    )


@lru_cache(maxsize=256)
def _cached(config: AlipayConfig, gateway_url: str, timeout_seconds: float) -> AlipayProvider:
    return AlipayProvider(config, gateway_url=gateway_url, timeout_seconds=timeout_seconds)


def alipay_provider(config: AlipayConfig, settings: Settings) -> AlipayProvider:
    """The adapter for one app, pointed where ``settings`` say; built once per config."""
    return _cached(config, settings.alipay_gateway_url, settings.http_timeout_seconds)
