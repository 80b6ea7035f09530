"""A thin async client for a WeChat official (service) account: web OAuth 2.0, the
server-side access token, JS-SDK tickets and signatures, template and subscribe messages.

Why not ``wechatpy``: its last release is a 2022 alpha, it is synchronous (``requests``)
while we run on asyncio, and its base URLs are spread over class attributes with one
absolute URL hard-coded (``/cgi-bin/token``). The surface we need is a handful of GET/POST
calls with JSON bodies; here both base URLs are constructor arguments (the stand-in in
dev and tests, ``api.weixin.qq.com`` / ``open.weixin.qq.com`` in production).

Errors come back from WeChat as HTTP 200 with ``{"errcode": n, "errmsg": ...}``; they are
raised as :class:`WechatApiError`. Transport failures are :class:`WechatUnavailable`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from loopmall.core.errors import LoopmallError
from loopmall.integrations.tls import tls_context

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid/expired access token: refetch once
SCOPES = ("snsapi_base", "snsapi_userinfo")


class WechatApiError(LoopmallError):
    status = 502
    code = "wechat_error"
    title = "WeChat refused the request"

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat error {errcode}: {errmsg}", errcode=errcode, errmsg=errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


class WechatUnavailable(LoopmallError):
    status = 502
    code = "wechat_unavailable"
    title = "WeChat could not be reached"


@dataclass(frozen=True)
class SnsToken:
    """What ``/sns/oauth2/access_token`` gives for a code."""

    access_token: str
    openid: str
    scope: str
    unionid: str | None
    is_snapshotuser: bool


def jssdk_signature(*, jsapi_ticket: str, noncestr: str, timestamp: str | int, url: str) -> str:
    """The JS-SDK ``wx.config`` signature: SHA-1 of the four fields in ASCII order, raw
    values, the page URL without its ``#`` fragment."""
    page = url.split("#", 1)[0]
    text = f"jsapi_ticket={jsapi_ticket}&noncestr={noncestr}&timestamp={timestamp}&url={page}"
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - WeChat's algorithm


class _TokenCache:
    """Access tokens and tickets per (base URL, appid), refreshed 5 minutes before expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str, str], tuple[str, float]] = {}

    def get(self, key: tuple[str, str, str]) -> str | None:
        with self._lock:
            item = self._items.get(key)
        if item is None or item[1] <= time.monotonic():
            return None
        return item[0]

    def put(self, key: tuple[str, str, str], value: str, expires_in: int) -> None:
        with self._lock:
            self._items[key] = (value, time.monotonic() + max(expires_in - 300, 30))

    def drop(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            self._items.pop(key, None)


CACHE = _TokenCache()


class WechatOAClient:
    """One official account (``appid`` + ``secret``)."""

    def __init__(
        self,
        *,
        appid: str,
        secret: str,
        api_base_url: str = "https://api.weixin.qq.com",
        open_base_url: str = "https://open.weixin.qq.com",
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.appid = appid
        self._secret = secret
        self.api_base_url = api_base_url.rstrip("/")
        self.open_base_url = open_base_url.rstrip("/")
        self._timeout = timeout
        self._transport = transport

    # --- plumbing ----------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, params: dict[str, str], body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout, transport=self._transport, verify=tls_context()
            ) as http:
                response = await http.request(
                    method, f"{self.api_base_url}{path}", params=params, json=body
                )
        except httpx.HTTPError as exc:
            raise WechatUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise WechatUnavailable(f"HTTP {response.status_code} from {path}")
        try:
            data: dict[str, Any] = response.json()
        except ValueError as exc:
            raise WechatUnavailable(f"not JSON from {path}") from exc
        errcode = int(data.get("errcode", 0) or 0)
        if errcode != 0:
            raise WechatApiError(errcode, str(data.get("errmsg", "")))
        return data

    def _key(self, kind: str) -> tuple[str, str, str]:
        return (self.api_base_url, self.appid, kind)

    # --- web OAuth 2.0 -----------------------------------------------------------------

    def authorize_url(self, redirect_uri: str, *, scope: str, state: str) -> str:
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope}")
        query = urlencode(
            {
                "appid": self.appid,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": scope,
                "state": state,
            }
        )
        return f"{self.open_base_url}/connect/oauth2/authorize?{query}#wechat_redirect"

    async def exchange_code(self, code: str) -> SnsToken:
        data = await self._call(
            "GET",
            "/sns/oauth2/access_token",
            {
                "appid": self.appid,
                "secret": self._secret,
                "code": code,
                "grant_type": "authorization_code",
            },
        )
        return SnsToken(
            access_token=str(data["access_token"]),
            openid=str(data["openid"]),
            scope=str(data.get("scope", "")),
            unionid=str(data["unionid"]) if data.get("unionid") else None,
            is_snapshotuser=bool(data.get("is_snapshotuser")),
        )

    async def userinfo(self, access_token: str, openid: str) -> dict[str, Any]:
        return await self._call(
            "GET",
            "/sns/userinfo",
            {"access_token": access_token, "openid": openid, "lang": "zh_CN"},
        )

    # --- server-side token, JS-SDK -----------------------------------------------------

    async def access_token(self, *, refresh: bool = False) -> str:
        key = self._key("token")
        if not refresh and (cached := CACHE.get(key)):
            return cached
        data = await self._call(
            "GET",
            "/cgi-bin/token",
            {"grant_type": "client_credential", "appid": self.appid, "secret": self._secret},
        )
        token = str(data["access_token"])
        CACHE.put(key, token, int(data.get("expires_in", 7200)))
        return token

    async def _with_token(
        self, method: str, path: str, params: dict[str, str], body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        token = await self.access_token()
        try:
            return await self._call(method, path, {**params, "access_token": token}, body)
        except WechatApiError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            CACHE.drop(self._key("token"))
            token = await self.access_token(refresh=True)
            return await self._call(method, path, {**params, "access_token": token}, body)

    async def jsapi_ticket(self) -> str:
        key = self._key("jsapi")
        if cached := CACHE.get(key):
            return cached
        data = await self._with_token("GET", "/cgi-bin/ticket/getticket", {"type": "jsapi"})
        ticket = str(data["ticket"])
        CACHE.put(key, ticket, int(data.get("expires_in", 7200)))
        return ticket

    async def jssdk_config(self, url: str, *, noncestr: str, timestamp: int) -> dict[str, Any]:
        """The ``wx.config`` arguments for a page at ``url``."""
        ticket = await self.jsapi_ticket()
        return {
            "appId": self.appid,
            "timestamp": timestamp,
            "nonceStr": noncestr,
            "signature": jssdk_signature(
                jsapi_ticket=ticket, noncestr=noncestr, timestamp=timestamp, url=url
            ),
        }

    # --- messages ----------------------------------------------------------------------

    async def send_template(
        self,
        *,
        openid: str,
        template_id: str,
        data: dict[str, str],
        url: str | None = None,
        client_msg_id: str | None = None,
    ) -> str:
        """A template message (needs the user to follow the account); returns the msgid.
        ``client_msg_id`` makes a resend within 10 minutes a no-op on WeChat's side."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {k: {"value": v} for k, v in data.items()},
        }
        if url:
            body["url"] = url
        if client_msg_id:
            body["client_msg_id"] = client_msg_id
        result = await self._with_token("POST", "/cgi-bin/message/template/send", {}, body)
        return str(result.get("msgid", ""))

    async def send_subscribe(
        self,
        *,
        openid: str,
        template_id: str,
        data: dict[str, str],
        page: str | None = None,
    ) -> str:
        """An OA subscribe message (订阅通知, ``bizsend``); needs the user's consent for the
        template (one send per one-time consent)."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {k: {"value": v} for k, v in data.items()},
        }
        if page:
            body["page"] = page
        result = await self._with_token("POST", "/cgi-bin/message/subscribe/bizsend", {}, body)
        return str(result.get("msgid", ""))
