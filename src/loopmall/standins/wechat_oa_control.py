"""The WeChat OA stand-in's consent page and its control API (see wechat_oa.py)."""

from __future__ import annotations

import html
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from loopmall.standins.wechat_oa import WechatOAStandin


def consent_page(self: WechatOAStandin, params: dict[str, str]) -> str:
    app = self.apps[params["appid"]]
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k in ("appid", "redirect_uri", "response_type", "scope", "state")
    )
    asks = "获取你的昵称、头像" if params.get("scope") == "snsapi_userinfo" else "获取你的身份"
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<title>微信授权</title></head><body>"
        f"<h1>{html.escape(app.name or app.appid)}</h1><p>申请{asks}</p>"
        f'<form method="post" action="/connect/oauth2/authorize">{hidden}'
        '<label>微信用户 <input name="user" value="微信用户" required></label>'
        '<button name="decision" value="allow">允许</button>'
        '<button name="decision" value="deny">拒绝</button></form></body></html>'
    )


async def control(self: WechatOAStandin, request: Request) -> Response:
    action = request.path_params["action"]
    if request.method == "GET" and action == "messages":
        q = request.query_params
        found = self.messages(q.get("appid") or None, q.get("touser") or None)
        return JSONResponse([asdict(m) for m in found])
    body: dict[str, Any] = {}
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
    if action == "apps":
        self.add_app(
            body["appid"],
            body["secret"],
            open_platform_id=body.get("open_platform_id"),
            name=body.get("name", ""),
            server_url=body.get("server_url", ""),
            server_token=body.get("server_token", ""),
        )
        return JSONResponse({"ok": True})
    if action == "codes":
        code = self.issue_code(body["appid"], body["user"], body.get("scope", "snsapi_base"))
        return JSONResponse({"code": code})
    if action == "follow":
        self.follow(body["appid"], body["openid"], deliver=bool(body.get("deliver", True)))
        return JSONResponse({"ok": True})
    if action == "subscriptions":
        self.grant_subscription(
            body["appid"], body["openid"], body["template_id"], int(body.get("count", 1))
        )
        return JSONResponse({"ok": True})
    if action == "outage":
        with self.lock:
            self.outage = int(body.get("count", 1))
            self.outage_status = int(body.get("status", 503))
        return JSONResponse({"ok": True})
    if action == "expire-tokens":
        with self.lock:
            self.tokens.clear()
        return JSONResponse({"ok": True})
    if action == "reset":
        self.reset()
        return JSONResponse({"ok": True})
    return JSONResponse({"code": "NOT_FOUND", "message": action}, status_code=404)
