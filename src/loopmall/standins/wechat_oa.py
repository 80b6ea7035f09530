"""A WeChat official-account stand-in: web OAuth 2.0, server tokens, JS-SDK tickets and the
message endpoints, as WeChat really answers them (HTTP 200 with ``errcode``/``errmsg``).

People are keyed by a name: a person's openid differs per appid, their unionid is shared by
the apps bound to one Open Platform account. ``/connect/oauth2/authorize`` shows a tiny
consent page (or, for ``snsapi_base`` with a known browser, answers at once) and redirects
with ``code`` and ``state``. Template messages need the person to follow the account
(``43004``); subscribe messages need a consent per template, one send each (``43101``).
Everything sent is kept in ``sent`` (and ``GET /_standin/messages``) for tests to read.

Control API (no real WeChat has it), JSON under ``/_standin``:
  POST /apps {appid, secret, open_platform_id?, name?, server_url?, server_token?}
  POST /codes {appid, user, scope?}  → {code}             a code as if the person consented
  POST /follow {appid, openid, deliver?}   the person follows (subscribe event pushed)
  POST /subscriptions {appid, openid, template_id, count?} consent to a subscribe template
  POST /outage {count, status?}                           fail the next ``count`` API calls
  POST /expire-tokens                                     every access token becomes invalid
  GET  /messages?appid=&touser=                           what was sent, oldest first
  POST /reset                                             forget everything but the apps
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote, unquote, urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from loopmall.standins.wechat_oa_control import consent_page, control

USER_COOKIE = "wx_standin_user"


@dataclass
class OAApp:
    appid: str
    secret: str
    open_platform_id: str | None = None
    name: str = ""
    server_url: str = ""  # where WeChat pushes events (服务器配置), with its token
    server_token: str = ""


@dataclass
class Grant:
    appid: str
    user: str
    scope: str
    expires: float
    used: bool = False


@dataclass
class SentMessage:
    kind: str  # template|subscribe|custom
    appid: str
    touser: str
    template_id: str
    data: dict[str, Any]
    msgid: int
    url: str = ""
    client_msg_id: str = ""
    at: float = field(default_factory=time.time)


def _err(errcode: int, errmsg: str) -> JSONResponse:
    return JSONResponse({"errcode": errcode, "errmsg": errmsg})


class WechatOAStandin:
    def __init__(self, *, code_ttl: float = 300, token_ttl: int = 7200) -> None:
        self.code_ttl = code_ttl
        self.token_ttl = token_ttl
        self.apps: dict[str, OAApp] = {}
        self.lock = threading.RLock()
        self._msgids = itertools.count(200228332)
        self.reset()
        self.app = self._build()

    def reset(self) -> None:
        with self.lock:
            self.codes: dict[str, Grant] = {}
            self.sns_tokens: dict[str, Grant] = {}
            self.tokens: dict[str, tuple[str, float]] = {}
            self.tickets: dict[str, str] = {}
            self.followers: set[tuple[str, str]] = set()
            self.consents: dict[tuple[str, str, str], int] = {}
            self.sent: list[SentMessage] = []
            self.by_client_msg_id: dict[tuple[str, str, str], int] = {}
            self.outage = 0
            self.outage_status = 503
            self.calls: list[str] = []

    # --- people and accounts -----------------------------------------------------------

    def add_app(
        self,
        appid: str,
        secret: str,
        *,
        open_platform_id: str | None = None,
        name: str = "",
        server_url: str = "",
        server_token: str = "",
    ) -> OAApp:
        app = OAApp(appid, secret, open_platform_id, name, server_url, server_token)
        with self.lock:
            self.apps[appid] = app
        return app

    @staticmethod
    def _digest(namespace: str, user: str) -> str:
        raw = hashlib.sha256(f"{namespace}\0{user}".encode()).digest()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def openid_for(self, appid: str, user: str) -> str:
        return "o" + self._digest(appid, user)[:27]

    def unionid_for(self, appid: str, user: str) -> str | None:
        platform = self.apps[appid].open_platform_id
        return "u" + self._digest(platform, user)[:27] if platform else None

    def issue_code(self, appid: str, user: str, scope: str = "snsapi_base") -> str:
        code = secrets.token_hex(16)
        with self.lock:
            self.codes[code] = Grant(appid, user, scope, time.time() + self.code_ttl)
        return code

    def follow(self, appid: str, openid: str, *, deliver: bool = True) -> None:
        """The person follows the account; WeChat pushes a ``subscribe`` event."""
        with self.lock:
            self.followers.add((appid, openid))
        if deliver:
            self.deliver_event(appid, openid, "subscribe")

    def unfollow(self, appid: str, openid: str, *, deliver: bool = True) -> None:
        with self.lock:
            self.followers.discard((appid, openid))
        if deliver:
            self.deliver_event(appid, openid, "unsubscribe")

    def build_event(self, appid: str, openid: str, event: str) -> tuple[dict[str, str], str]:
        """A plaintext-mode event push: the signed query string and the XML body."""
        app = self.apps[appid]
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        parts = sorted([app.server_token, timestamp, nonce])
        signature = hashlib.sha1("".join(parts).encode()).hexdigest()  # noqa: S324 - WeChat's
        body = (
            f"<xml><ToUserName><![CDATA[gh_{appid[-8:]}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event></xml>"
        )
        return {"signature": signature, "timestamp": timestamp, "nonce": nonce}, body

    def deliver_event(self, appid: str, openid: str, event: str) -> int | None:
        """POST the event to the account's server URL (if set); returns the HTTP status."""
        app = self.apps.get(appid)
        if app is None or not app.server_url:
            return None
        query, body = self.build_event(appid, openid, event)
        try:
            response = httpx.post(app.server_url, params=query, content=body, timeout=5)
        except httpx.HTTPError:
            return None
        return response.status_code

    def grant_subscription(self, appid: str, openid: str, template_id: str, count: int = 1) -> None:
        with self.lock:
            key = (appid, openid, template_id)
            self.consents[key] = self.consents.get(key, 0) + count

    def messages(self, appid: str | None = None, touser: str | None = None) -> list[SentMessage]:
        with self.lock:
            return [
                m
                for m in self.sent
                if (appid is None or m.appid == appid) and (touser is None or m.touser == touser)
            ]

    # --- helpers -------------------------------------------------------------------------

    def _down(self, path: str) -> Response | None:
        with self.lock:
            self.calls.append(path)
            if self.outage > 0:
                self.outage -= 1
                return Response("upstream unavailable", status_code=self.outage_status)
        return None

    def _app_for_token(self, request: Request) -> str | None:
        token = request.query_params.get("access_token", "")
        with self.lock:
            item = self.tokens.get(token)
        if item is None or item[1] <= time.time():
            return None
        return item[0]

    # --- routes --------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.form()).items()})
        appid = params.get("appid", "")
        redirect_uri = params.get("redirect_uri", "")
        scope = params.get("scope", "")
        state = params.get("state", "")
        if appid not in self.apps:
            return HTMLResponse("<p>appid 参数错误 (10003)</p>", status_code=400)
        if params.get("response_type") != "code" or scope not in ("snsapi_base", "snsapi_userinfo"):
            return HTMLResponse("<p>scope 参数错误或没有 scope 权限 (10005)</p>", status_code=400)
        if not redirect_uri.startswith(("http://", "https://")):
            return HTMLResponse("<p>redirect_uri 参数错误 (10003)</p>", status_code=400)
        user = params.get("user") or ""
        if request.method == "GET" and scope == "snsapi_base":
            user = user or unquote(request.cookies.get(USER_COOKIE, ""))
        decision = params.get("decision", "allow" if request.method == "GET" and user else "")
        if not decision:
            return HTMLResponse(consent_page(self, params))
        sep = "&" if "?" in redirect_uri else "?"
        if decision != "allow" or not user:
            return RedirectResponse(f"{redirect_uri}{sep}{urlencode({'state': state})}", 302)
        code = self.issue_code(appid, user, scope)
        target = f"{redirect_uri}{sep}{urlencode({'code': code, 'state': state})}"
        response = RedirectResponse(target, 302)
        response.set_cookie(USER_COOKIE, quote(user), httponly=True)
        return response

    async def sns_access_token(self, request: Request) -> Response:
        if (down := self._down("/sns/oauth2/access_token")) is not None:
            return down
        q = request.query_params
        app = self.apps.get(q.get("appid", ""))
        if app is None:
            return _err(40013, "invalid appid")
        if q.get("secret") != app.secret:
            return _err(40125, "invalid appsecret")
        if q.get("grant_type") != "authorization_code":
            return _err(40002, "invalid grant_type")
        with self.lock:
            grant = self.codes.get(q.get("code", ""))
            if grant is None or grant.appid != app.appid or grant.expires <= time.time():
                return _err(40029, "invalid code")
            if grant.used:
                return _err(40163, "code been used")
            grant.used = True
            token = secrets.token_hex(20)
            self.sns_tokens[token] = Grant(app.appid, grant.user, grant.scope, time.time() + 7200)
        body: dict[str, Any] = {
            "access_token": token,
            "expires_in": 7200,
            "refresh_token": secrets.token_hex(20),
            "openid": self.openid_for(app.appid, grant.user),
            "scope": grant.scope,
        }
        unionid = self.unionid_for(app.appid, grant.user)
        if unionid and grant.scope == "snsapi_userinfo":
            body["unionid"] = unionid
        return JSONResponse(body)

    async def sns_userinfo(self, request: Request) -> Response:
        if (down := self._down("/sns/userinfo")) is not None:
            return down
        q = request.query_params
        with self.lock:
            grant = self.sns_tokens.get(q.get("access_token", ""))
        if grant is None or grant.expires <= time.time():
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        openid = self.openid_for(grant.appid, grant.user)
        if q.get("openid") != openid:
            return _err(40003, "invalid openid")
        if grant.scope != "snsapi_userinfo":
            return _err(48001, "api unauthorized")
        avatar = self._digest("avatar", grant.user)
        body: dict[str, Any] = {
            "openid": openid,
            "nickname": grant.user,
            "sex": 0,
            "province": "",
            "city": "",
            "country": "",
            "headimgurl": f"https://thirdwx.qlogo.cn/mmopen/{avatar}/132",
            "privilege": [],
        }
        if unionid := self.unionid_for(grant.appid, grant.user):
            body["unionid"] = unionid
        return JSONResponse(body)

    async def cgi_token(self, request: Request) -> Response:
        if (down := self._down("/cgi-bin/token")) is not None:
            return down
        q = request.query_params
        app = self.apps.get(q.get("appid", ""))
        if q.get("grant_type") != "client_credential":
            return _err(40002, "invalid grant_type")
        if app is None:
            return _err(40013, "invalid appid")
        if q.get("secret") != app.secret:
            return _err(40125, "invalid appsecret")
        token = secrets.token_urlsafe(48)
        with self.lock:
            self.tokens[token] = (app.appid, time.time() + self.token_ttl)
        return JSONResponse({"access_token": token, "expires_in": self.token_ttl})

    async def getticket(self, request: Request) -> Response:
        if (down := self._down("/cgi-bin/ticket/getticket")) is not None:
            return down
        appid = self._app_for_token(request)
        if appid is None:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        if request.query_params.get("type") != "jsapi":
            return _err(40097, "invalid args")
        with self.lock:
            ticket = self.tickets.setdefault(appid, secrets.token_urlsafe(60))
        return JSONResponse({"errcode": 0, "errmsg": "ok", "ticket": ticket, "expires_in": 7200})

    async def send(self, request: Request) -> Response:  # noqa: C901, PLR0912 (a test stand-in answering each message type as WeChat does)
        path = request.url.path
        if (down := self._down(path)) is not None:
            return down
        appid = self._app_for_token(request)
        if appid is None:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        try:
            body = await request.json()
        except ValueError:
            return _err(47001, "data format error")
        if not isinstance(body, dict) or not body.get("touser"):
            return _err(40003, "invalid openid")
        touser = str(body["touser"])
        if path.endswith("/subscribe/bizsend"):
            kind = "subscribe"
        elif path.endswith("/custom/send"):
            kind = "custom"
        else:
            kind = "template"
        template_id = str(body.get("template_id", ""))
        if kind != "custom" and not template_id:
            return _err(40037, "invalid template_id")
        with self.lock:
            if kind == "template":
                if (appid, touser) not in self.followers:
                    return _err(43004, "require subscribe")
                cmid = str(body.get("client_msg_id", ""))
                if cmid and (appid, touser, cmid) in self.by_client_msg_id:
                    msgid = self.by_client_msg_id[(appid, touser, cmid)]
                    return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": msgid})
            if kind == "subscribe":
                key = (appid, touser, template_id)
                if self.consents.get(key, 0) <= 0:
                    return _err(43101, "user refuse to accept the msg")
                self.consents[key] -= 1
            msgid = next(self._msgids)
            data = body.get("data") if kind != "custom" else body.get("text")
            message = SentMessage(
                kind=kind,
                appid=appid,
                touser=touser,
                template_id=template_id,
                data=data if isinstance(data, dict) else {},
                msgid=msgid,
                url=str(body.get("url") or body.get("page") or ""),
                client_msg_id=str(body.get("client_msg_id", "")),
            )
            self.sent.append(message)
            if message.client_msg_id:
                self.by_client_msg_id[(appid, touser, message.client_msg_id)] = msgid
        return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    # --- control -------------------------------------------------------------------------

    def _build(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/connect/oauth2/authorize", self.authorize, methods=["GET", "POST"]),
                Route("/sns/oauth2/access_token", self.sns_access_token),
                Route("/sns/userinfo", self.sns_userinfo),
                Route("/cgi-bin/token", self.cgi_token),
                Route("/cgi-bin/ticket/getticket", self.getticket),
                Route("/cgi-bin/message/template/send", self.send, methods=["POST"]),
                Route("/cgi-bin/message/subscribe/bizsend", self.send, methods=["POST"]),
                Route("/cgi-bin/message/custom/send", self.send, methods=["POST"]),
                Route("/_standin/{action}", partial(control, self), methods=["GET", "POST"]),
            ]
        )
