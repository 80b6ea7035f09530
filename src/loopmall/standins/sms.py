"""An SMS gateway stand-in speaking the protocol of ``integrations.sms.HttpSmsSender``.

``POST /v1/messages {"to", "text", "out_id"}`` → ``{"code": "OK", "message_id"}``; a repeated
``out_id`` is not sent again (the first ``message_id`` is returned). A number that is not a
mainland mobile number gets HTTP 400 ``{"code": "INVALID_PHONE"}``.

Control API: ``GET /_standin/messages?to=`` (what was sent, oldest first),
``POST /_standin/outage {"count", "status"}`` (fail the next calls), ``POST /_standin/reset``.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PHONE = re.compile(r"^1\d{10}$")
CODE_IN_TEXT = re.compile(r"(\d{6})")


@dataclass
class Sms:
    to: str
    text: str
    out_id: str
    message_id: str
    at: float = field(default_factory=time.time)


class SmsStandin:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.reset()
        self.app = Starlette(
            routes=[
                Route("/v1/messages", self.send, methods=["POST"]),
                Route("/_standin/{action}", self.control, methods=["GET", "POST"]),
            ]
        )

    def reset(self) -> None:
        with self.lock:
            self.sent: list[Sms] = []
            self.by_out_id: dict[str, Sms] = {}
            self.outage = 0
            self.outage_status = 503

    def messages(self, to: str | None = None) -> list[Sms]:
        with self.lock:
            return [m for m in self.sent if to is None or m.to == to]

    def last_code(self, to: str) -> str | None:
        """The last six-digit code texted to ``to`` (login tests read it here)."""
        for message in reversed(self.messages(to)):
            if found := CODE_IN_TEXT.search(message.text):
                return found.group(1)
        return None

    async def send(self, request: Request) -> Response:
        with self.lock:
            if self.outage > 0:
                self.outage -= 1
                return JSONResponse(
                    {"code": "UNAVAILABLE", "message": "try later"}, status_code=self.outage_status
                )
        try:
            body: Any = await request.json()
        except ValueError:
            return JSONResponse({"code": "BAD_REQUEST", "message": "not JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"code": "BAD_REQUEST", "message": "not an object"}, 400)
        to, text, out_id = (
            str(body.get("to", "")),
            str(body.get("text", "")),
            str(body.get("out_id", "")),
        )
        if not PHONE.match(to):
            return JSONResponse({"code": "INVALID_PHONE", "message": to}, status_code=400)
        if not text or not out_id:
            return JSONResponse({"code": "BAD_REQUEST", "message": "text and out_id"}, 400)
        with self.lock:
            if out_id in self.by_out_id:
                return JSONResponse({"code": "OK", "message_id": self.by_out_id[out_id].message_id})
            sms = Sms(to, text, out_id, f"sms{next(self._ids):08d}")
            self.sent.append(sms)
            self.by_out_id[out_id] = sms
        return JSONResponse({"code": "OK", "message_id": sms.message_id})

    async def control(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action == "messages":
            return JSONResponse([asdict(m) for m in self.messages(request.query_params.get("to"))])
        if action == "outage":
            body = await request.json()
            with self.lock:
                self.outage = int(body.get("count", 1))
                self.outage_status = int(body.get("status", 503))
            return JSONResponse({"ok": True})
        if action == "reset":
            self.reset()
            return JSONResponse({"ok": True})
        return JSONResponse({"code": "NOT_FOUND", "message": action}, status_code=404)
