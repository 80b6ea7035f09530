"""The demo's sandbox provider: no money moves, but payments still arrive as signed callbacks.

Its "pay" button builds a callback signed with HMAC-SHA256 under the merchant's sandbox
secret (``TIMESTAMP\\nNONCE\\nBODY\\n``, the shape of WeChat Pay's) and posts it to our own
callback route, so the sandbox exercises exactly the pipeline real providers do:
verification (serial, timestamp window, signature), idempotency, the record. It keeps no
trade state of its own: ``query`` answers "unknown" and the reconciliation skips it.

It marks orders paid with no money, so it works only while ``settings.sandbox_payments``
is on (the demo and the tests switch it on; production refuses to start with it):
:func:`require_enabled` guards starting a sandbox payment, its pay button and its callback
route, and the sandbox is not offered as a way of paying while it is off.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from loopmall.config import Settings
from loopmall.core.errors import Forbidden
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
    TradeStatus,
)

H_TIMESTAMP = "X-Sandbox-Timestamp"
H_NONCE = "X-Sandbox-Nonce"
H_SIGNATURE = "X-Sandbox-Signature"
H_SERIAL = "X-Sandbox-Serial"
_STATES = ("paid", "closed", "refund_succeeded", "refund_failed")


class SandboxPaymentsDisabled(Forbidden):
    code = "sandbox_payments_disabled"
    title = "Sandbox payments are switched off"


def require_enabled(settings: Settings) -> None:
    """Raise 403 ``sandbox_payments_disabled`` unless ``settings.sandbox_payments`` is on."""
    if not settings.sandbox_payments:
        raise SandboxPaymentsDisabled(
            "This deployment takes no sandbox payments (LOOPMALL_SANDBOX_PAYMENTS is off)"
        )


def new_credentials() -> dict[str, str]:
    """What a merchant's sandbox account holds: a secret and the id that names it."""
    return {"secret": secrets.token_hex(32), "key_id": "SBX_" + secrets.token_hex(8).upper()}


def _sign(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class SandboxProvider:
    """A :class:`~loopmall.integrations.payment_provider.PaymentProvider` for the demo."""

    name = "sandbox"

    def __init__(self, secret: str, key_id: str, *, callback_window_seconds: int = 300) -> None:
        if len(secret) < 16:
            raise ValueError("the sandbox secret is too short")
        self._secret = secret
        self.key_id = key_id
        self.callback_window_seconds = callback_window_seconds

    async def start(self, request: PayRequest) -> PayStart:
        if request.method is not PayMethod.SANDBOX:
            raise ProviderError("UNSUPPORTED_METHOD", f"the sandbox cannot {request.method}")
        return PayStart(method=PayMethod.SANDBOX)

    async def query(self, out_trade_no: str) -> TradeStatus:
        return TradeStatus(out_trade_no=out_trade_no, state="unknown")

    async def close(self, out_trade_no: str) -> None:
        return None

    async def refund(self, request: RefundRequest) -> RefundResult:
        return RefundResult(
            out_refund_no=request.out_refund_no,
            state="succeeded",
            provider_refund_no="SBR" + secrets.token_hex(10).upper(),
        )

    def build_callback(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        now: datetime,
        kind: Literal["payment", "refund"] = "payment",
        state: str = "paid",
        out_refund_no: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A signed callback as the sandbox "provider" sends it: (headers, body)."""
        payload: dict[str, Any] = {
            "id": secrets.token_hex(12),
            "kind": kind,
            "state": state,
            "out_trade_no": out_trade_no,
            "amount_fen": amount_fen,
            "trade_no": "SBT" + hashlib.sha256(out_trade_no.encode()).hexdigest()[:20].upper(),
            "occurred_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        }
        if out_refund_no:
            payload["out_refund_no"] = out_refund_no
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = str(int(now.timestamp()))
        nonce = secrets.token_hex(16)
        headers = {
            H_TIMESTAMP: timestamp,
            H_NONCE: nonce,
            H_SERIAL: self.key_id,
            H_SIGNATURE: _sign(self._secret, timestamp, nonce, body),
            "Content-Type": "application/json",
        }
        return headers, body

    def parse_callback(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime
    ) -> CallbackEvent:
        h = {k.lower(): v for k, v in headers.items()}
        for name in (H_TIMESTAMP, H_NONCE, H_SIGNATURE, H_SERIAL):
            if not h.get(name.lower()):
                raise CallbackRejected(f"missing header {name}")
        if h[H_SERIAL.lower()] != self.key_id:
            raise CallbackRejected("unknown serial")
        try:
            timestamp = int(h[H_TIMESTAMP.lower()])
        except ValueError:
            raise CallbackRejected("malformed timestamp") from None
        if abs(now.timestamp() - timestamp) > self.callback_window_seconds:
            raise CallbackRejected("timestamp outside the window")
        expected = _sign(self._secret, h[H_TIMESTAMP.lower()], h[H_NONCE.lower()], body)
        if not hmac.compare_digest(expected, h[H_SIGNATURE.lower()]):
            raise CallbackRejected("bad signature")
        try:
            data = json.loads(body)
            kind = data["kind"]
            state = data["state"]
            amount = data["amount_fen"]
            occurred = data.get("occurred_at")
            occurred_at = datetime.fromisoformat(occurred) if occurred else None
        except (ValueError, KeyError, TypeError):
            raise CallbackRejected("malformed body") from None
        if kind not in ("payment", "refund") or not isinstance(amount, int):
            raise CallbackRejected("malformed body")
        return CallbackEvent(
            kind=kind,
            provider_event_id=str(data.get("id", "")),
            out_trade_no=str(data.get("out_trade_no", "")),
            state=state if state in _STATES else "other",
            amount_fen=amount,
            provider_trade_no=data.get("trade_no"),
            out_refund_no=data.get("out_refund_no"),
            occurred_at=occurred_at,
            raw=data,
        )

    def accepted(self) -> CallbackReply:
        return CallbackReply(status_code=200, body=b"OK", media_type="text/plain")

    def rejected(self, reason: str) -> CallbackReply:
        return CallbackReply(status_code=400, body=b"FAIL", media_type="text/plain")
