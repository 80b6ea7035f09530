"""WeChat official account adapter: web OAuth, access token, JS-SDK, template and subscribe
messages (a thin ``httpx`` client, see client.py for why not ``wechatpy``)."""

from loopmall.integrations.wechat.client import (
    SnsToken,
    WechatApiError,
    WechatOAClient,
    WechatUnavailable,
    jssdk_signature,
)

__all__ = ["SnsToken", "WechatApiError", "WechatOAClient", "WechatUnavailable", "jssdk_signature"]
